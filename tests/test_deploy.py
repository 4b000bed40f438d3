"""deploy/compose.yaml sets only real settings, and the API it describes would start in
production (no development default left)."""

import re
from pathlib import Path

import yaml

from app.core.config import Settings

COMPOSE = Path(__file__).resolve().parent.parent / "deploy" / "compose.yaml"
# What an operator exports before `docker compose up`.
OPERATOR = {"DL_JWT_SECRET": "s" * 48}


def _interpolate(value: str) -> str:
    """Compose's ${NAME:-default} and ${NAME:?message}, with the operator's variables."""

    def one(match: re.Match[str]) -> str:
        name, operator, rest = match[1], match[2], match[3]
        if name in OPERATOR:
            return OPERATOR[name]
        if operator == ":?":
            raise AssertionError(f"{name} must be set: {rest}")
        return rest or ""

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, value)


def _services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def _environment(service: str) -> dict[str, str]:
    return {k: _interpolate(str(v)) for k, v in _services()[service]["environment"].items()}


def test_every_dl_variable_is_a_setting():
    fields = set(Settings.model_fields)
    for name, service in _services().items():
        for variable in service.get("environment") or {}:
            if variable.startswith("DL_"):
                assert variable[3:].lower() in fields, f"{name}: {variable} is no setting"


def test_the_api_and_worker_start_in_production(monkeypatch):
    for service in ("api", "worker", "migrate"):
        for variable in list(Settings.model_fields):
            monkeypatch.delenv(f"DL_{variable.upper()}", raising=False)
        for name, value in _environment(service).items():
            monkeypatch.setenv(name, value)
        settings = Settings()
        assert settings.environment == "production"
        assert settings.database_url.startswith("postgresql+asyncpg://")
        assert settings.mail_transport == "smtp" and not settings.worker_in_process


def test_the_topology():
    services = _services()
    assert set(services) == {"db", "migrate", "api", "worker", "mail"}
    assert services["api"]["deploy"]["replicas"] == 2
    assert services["migrate"]["command"] == ["alembic", "upgrade", "head"]
    assert services["worker"]["command"] == ["python", "-m", "app.worker"]
    # The worker yields the CPU to the API replicas (the default weight is 1024).
    assert services["worker"]["cpu_shares"] < 1024 and "cpu_shares" not in services["api"]
    # The replicas wait for the one migration run instead of each running it.
    assert "alembic" not in " ".join(services["api"]["command"])
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
    assert services["db"]["healthcheck"]["test"][0] == "CMD-SHELL"
