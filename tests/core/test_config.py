"""Settings are validated at start: the JWT secret above all."""

import pytest
from pydantic import ValidationError

from app.core import config
from app.core.config import Settings
from app.core.security import PasswordHasher


def test_production_refuses_a_missing_or_short_secret(monkeypatch):
    monkeypatch.delenv("DL_JWT_SECRET", raising=False)
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(environment="production")
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(environment="production", jwt_secret="short")
    assert Settings(environment="production", jwt_secret="p" * 32).jwt_secret == "p" * 32


def test_a_short_secret_is_refused_in_development_too():
    with pytest.raises(ValidationError, match="shorter than 32 bytes"):
        Settings(environment="development", jwt_secret="short")


def test_development_secret_is_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "VAR_DIR", tmp_path / "var")
    monkeypatch.delenv("DL_JWT_SECRET", raising=False)
    first = Settings(environment="development").jwt_secret
    second = Settings(environment="development").jwt_secret
    assert first == second and len(first.encode()) >= 32
    stored = tmp_path / "var" / "jwt_secret"
    assert stored.read_text() == first and oct(stored.stat().st_mode)[-3:] == "600"


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("DL_MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("DL_CORS_ORIGINS", '["https://a.test"]')
    settings = Settings(jwt_secret="e" * 32)
    assert settings.max_body_bytes == 2048 and settings.cors_origins == ["https://a.test"]
    monkeypatch.setenv("DL_MAX_BODY_BYTES", "12")
    with pytest.raises(ValidationError):
        Settings(jwt_secret="e" * 32)


async def test_unknown_email_costs_a_real_verification(monkeypatch):
    """No timing assertion: the dummy hash is verified, so the work is the same."""
    hasher = PasswordHasher(
        Settings(jwt_secret="e" * 32, password_hash_memory_kib=64, password_hash_time_cost=1)
    )
    calls = []
    original = hasher._safe_verify
    monkeypatch.setattr(
        hasher,
        "_safe_verify",
        lambda password, hashed: calls.append(hashed) or original(password, hashed),
    )
    assert await hasher.verify("whatever", None) is False
    stored = await hasher.hash("right password")
    assert await hasher.verify("wrong password", stored) is False
    assert await hasher.verify("right password", stored) is True
    assert len(calls) == 3 and calls[0].startswith("$argon2id$")
