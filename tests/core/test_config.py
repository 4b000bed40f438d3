"""Settings are validated at start: the JWT secret above all, and production refuses the
development defaults."""

import pytest
from pydantic import ValidationError

from app.core import config
from app.core.config import Settings
from app.core.security import PasswordHasher

# What production needs besides a secret (see test_production_refuses_development_defaults).
PRODUCTION = {
    "environment": "production",
    "database_url": "postgresql+asyncpg://dl@db.internal:5432/digital_leaders",
    "mail_transport": "smtp",
    "smtp_host": "smtp.example.com",
    "web_app_url": "https://app.example.com",
    "public_api_url": "https://api.example.com",
    "cors_origins": ["https://app.example.com"],
}


def test_production_refuses_a_missing_or_short_secret(monkeypatch):
    monkeypatch.delenv("DL_JWT_SECRET", raising=False)
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(**PRODUCTION)
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(**PRODUCTION, jwt_secret="short")
    assert Settings(**PRODUCTION, jwt_secret="p" * 32).jwt_secret == "p" * 32


@pytest.mark.parametrize(
    "override,message",
    [
        ({"mail_transport": "console"}, "DL_MAIL_TRANSPORT=console only logs e-mails"),
        ({"web_app_url": "http://127.0.0.1:8000"}, "DL_WEB_APP_URL is the development default"),
        ({"web_app_url": "http://127.0.0.1:8000/"}, "DL_WEB_APP_URL is the development default"),
        ({"public_api_url": "http://127.0.0.1:8000"}, "DL_PUBLIC_API_URL is the development"),
        (
            {"database_url": "sqlite+aiosqlite:///var/digital_leaders.db"},
            "DL_DATABASE_URL is SQLite: use PostgreSQL, or set DL_ALLOW_SQLITE_IN_PRODUCTION",
        ),
        ({"cors_origins": ["https://app.example.com", "*"]}, 'DL_CORS_ORIGINS contains "\\*"'),
    ],
)
def test_production_refuses_development_defaults(override, message):
    with pytest.raises(ValidationError, match=message) as refused:
        Settings(**(PRODUCTION | override), jwt_secret="p" * 32)
    assert "refused in production" in str(refused.value)
    # Elsewhere the same values are the defaults that make development easy.
    Settings(**(PRODUCTION | override | {"environment": "development"}), jwt_secret="p" * 32)


def test_production_lists_every_refusal_at_once(monkeypatch):
    for name in ("DL_DATABASE_URL", "DL_MAIL_TRANSPORT", "DL_WEB_APP_URL", "DL_CORS_ORIGINS"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValidationError) as refused:
        Settings(environment="production", jwt_secret="p" * 32, cors_origins=["*"])
    text = str(refused.value)
    for variable in ("DL_MAIL_TRANSPORT", "DL_WEB_APP_URL", "DL_DATABASE_URL", "DL_CORS_ORIGINS"):
        assert variable in text


def test_a_correct_production_config_passes_and_sqlite_only_when_allowed():
    settings = Settings(**PRODUCTION, jwt_secret="p" * 32)
    assert (settings.mail_transport, settings.docs_enabled) == ("smtp", False)
    sqlite = "sqlite+aiosqlite:///var/digital_leaders.db"
    allowed = Settings(
        **(PRODUCTION | {"database_url": sqlite}),
        jwt_secret="p" * 32,
        allow_sqlite_in_production=True,
    )
    assert allowed.is_sqlite


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
