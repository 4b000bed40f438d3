"""Settings, read once from the environment (prefix ``DL_``) and validated at start."""

import re
import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

VAR_DIR = Path("var")
# RFC 7518 section 3.2: an HS256 key MUST be at least as long as the hash output.
MIN_SECRET_BYTES = 32
DEFAULT_WEB_APP_URL = "http://127.0.0.1:8000"


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DL_", extra="ignore")

    environment: Environment = Environment.development
    database_url: str = f"sqlite+aiosqlite:///{VAR_DIR}/digital_leaders.db"
    # Production refuses SQLite (one writer, one host) unless this says it is meant.
    allow_sqlite_in_production: bool = False
    # Connections each process keeps, and never more (``core.db.create_engine``: no overflow).
    database_pool_size: int = Field(default=20, ge=1, le=200)
    # PostgreSQL: connections for the statements that commit on their own while a request's
    # transaction is open (``core.db.create_side_engine``).
    database_side_pool_size: int = Field(default=5, ge=1, le=50)
    database_connect_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    database_pool_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    jwt_secret: str = ""
    jwt_issuer: str = "digital-leaders"
    jwt_audience: str = "digital-leaders-api"
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=30, ge=1, le=365)

    # Argon2id cost. The default is OWASP's minimum (19 MiB, t=2, p=1); tests lower it.
    password_hash_memory_kib: int = Field(default=19456, ge=8)
    password_hash_time_cost: int = Field(default=2, ge=1)

    # Login throttling: failures within the window before 429.
    login_window_seconds: int = Field(default=900, ge=1)
    login_max_failures_per_account: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=30, ge=1)

    # E-mailed account links: how long each kind lives.
    verification_link_hours: int = Field(default=72, ge=1, le=24 * 30)
    invitation_link_days: int = Field(default=14, ge=1, le=90)
    password_reset_link_minutes: int = Field(default=60, ge=5, le=24 * 60)
    # Requests that send such an e-mail (sign-up, password reset, a new verification link),
    # counted within the window: per address (beyond it, nothing more is sent, and the answer
    # stays the same) and per client (beyond it, 429).
    link_request_window_seconds: int = Field(default=3600, ge=60)
    link_requests_per_address: int = Field(default=3, ge=1)
    link_requests_per_client: int = Field(default=20, ge=1)
    # An admin's re-sent invitation within this many minutes of the last is skipped.
    invitation_resend_minutes: int = Field(default=60, ge=0)

    # "json": one object per line for a log collector (the Docker image sets it); "text" for
    # a terminal.
    log_format: Literal["json", "text"] = "text"

    # GET /metrics (Prometheus): off unless enabled; with a token, only for its bearer.
    metrics_enabled: bool = False
    metrics_token: SecretStr = SecretStr("")

    # Traces (OpenTelemetry): on when the standard OTEL_EXPORTER_OTLP_ENDPOINT is set; the
    # exporter reads the other OTEL_* variables (headers, protocol, timeouts) itself.
    otel_exporter_otlp_endpoint: str = Field(
        default="", validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    otel_service_name: str = Field(
        default="digital-leaders-api", validation_alias="OTEL_SERVICE_NAME"
    )

    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    idempotency_ttl_hours: int = Field(default=24, ge=1, le=24 * 30)
    # A key whose request died mid-flight (process killed, database gone) is free after this.
    idempotency_lease_seconds: int = Field(default=30, ge=1, le=3600)

    # Registrations: how long a waiting-list offer stands, how long a confirmation link works.
    registration_offer_hours: int = Field(default=24, ge=1, le=24 * 14)
    confirmation_link_days: int = Field(default=14, ge=1, le=90)

    # Timepad: the secret phrase of the organisation's webhook (empty refuses every webhook),
    # and the REST API for reconciliation.
    timepad_webhook_secret: SecretStr = SecretStr("")
    timepad_api_url: str = "https://api.timepad.ru"
    timepad_api_token: SecretStr = SecretStr("")
    timepad_timeout_seconds: float = Field(default=15.0, gt=0, le=60)

    # Outbound webhooks. Plain http (and private addresses) only to these hosts: local
    # receivers in development and tests, never in production.
    webhook_allowed_http_hosts: list[str] = Field(default_factory=list)
    webhook_timeout_seconds: float = Field(default=15.0, gt=0, le=60)
    webhook_secret_rotation_hours: int = Field(default=24, ge=1, le=24 * 30)
    # A subscription failing without a single success for this long is disabled.
    webhook_disable_after_days: int = Field(default=5, ge=1, le=60)
    delivery_log_days: int = Field(default=30, ge=1, le=365)

    # E-mail. "console" logs messages instead of sending them (development).
    mail_transport: Literal["console", "smtp"] = "console"
    mail_from: str = "Digital Leaders <no-reply@digital-leaders.invalid>"
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    # STARTTLS on a plain connection (port 587), or TLS from the start (port 465).
    smtp_starttls: bool = True
    smtp_implicit_tls: bool = False
    smtp_timeout_seconds: float = Field(default=15.0, gt=0, le=120)
    # Where links in e-mails point: the web app that front-end developers build.
    web_app_url: str = DEFAULT_WEB_APP_URL
    # The API's own public address: one-click unsubscribe links (RFC 8058) and calendar feeds
    # are called by mail and calendar programs directly, not through the web app.
    public_api_url: str = DEFAULT_WEB_APP_URL
    # The clock of e-mails about no particular event (link expiry, survey deadlines).
    community_time_zone: str = "Europe/Moscow"

    # The worker: inside the API process unless run on its own (`python -m app.worker`).
    worker_in_process: bool = True
    # PostgreSQL: LISTEN for token revocations, so every process refuses a revoked access
    # token at once. Off behind a pooler in transaction mode (it breaks LISTEN): revocations
    # then reach the other processes within 2 seconds.
    revocation_listen: bool = True
    worker_batch_size: int = Field(default=50, ge=1, le=1000)
    worker_concurrency: int = Field(default=16, ge=1, le=256)
    # Attempts in flight to one webhook subscription: a receiver that hangs holds no more slots.
    worker_concurrency_per_subscription: int = Field(default=8, ge=1, le=256)
    # A claimed delivery is held this long; it must exceed the webhook timeout.
    worker_lease_seconds: int = Field(default=60, ge=5, le=3600)
    worker_idle_seconds: float = Field(default=1.0, gt=0, le=60)
    # The expert council: reviewers per application, and whether a reviewer sees the others'
    # reviews of an application only after submitting their own (keeps first opinions free).
    reviewers_per_application: int = Field(default=3, ge=1, le=15)
    reviews_hidden_until_own_submitted: bool = True
    # Rows one CSV import may hold (the request body limit applies too).
    application_import_max_rows: int = Field(default=10000, ge=1, le=100000)
    # The CSV import's own body limit: a season's form export (2,450 rows is about 1.3 MB)
    # is far past the general one.
    application_import_max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024
    )

    # /docs and /openapi.json: served unless the environment is production, where they show
    # the whole attack surface to strangers (OWASP API8); set explicitly to override.
    docs_enabled: bool | None = None

    # Bitrix24 CRM sync. The portal's inbound webhook URL (https://<portal>/rest/<user>/<code>/)
    # embeds its secret code, so it is a SecretStr: never printed in logs, reprs or errors.
    # Empty turns the sync off.
    bitrix24_webhook_url: SecretStr = SecretStr("")
    # The outgoing webhook's application token, compared with auth[application_token] inbound.
    bitrix24_application_token: SecretStr = SecretStr("")
    # The portal's leaky bucket (non-Enterprise plans: drains 2 requests/s, blocks above 50).
    bitrix24_rate_per_second: float = Field(default=2.0, gt=0, le=50)
    bitrix24_burst: int = Field(default=50, ge=1, le=500)
    # Bitrix24 ends every request after 60 s; we give up earlier and retry.
    bitrix24_timeout_seconds: float = Field(default=30.0, gt=0, le=60)
    # Retries inside one call before the caller is told when to try again.
    bitrix24_max_retries: int = Field(default=4, ge=0, le=10)
    # An application's status -> the lead's STATUS_ID in the portal (Bitrix24's standard lead
    # stages by default; a portal with its own stages sets this as a JSON object).
    bitrix24_lead_statuses: dict[str, str] = Field(
        default_factory=lambda: {
            "submitted": "NEW",
            "in_review": "IN_PROCESS",
            "waitlisted": "PROCESSED",
            "approved": "CONVERTED",
            "rejected": "JUNK",
            "withdrawn": "JUNK",
        }
    )
    # A registration's status -> the deal's STAGE_ID (Bitrix24's default deal funnel).
    bitrix24_deal_stages: dict[str, str] = Field(
        default_factory=lambda: {
            "pending_confirmation": "NEW",
            "waitlisted": "PREPARATION",
            "offered": "PREPARATION",
            "confirmed": "EXECUTING",
            "checked_in": "WON",
            "no_show": "LOSE",
            "cancelled": "APOLOGY",
        }
    )

    @field_validator("community_time_zone")
    @classmethod
    def _check_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (KeyError, ValueError):
            raise ValueError("must be an IANA time zone name, e.g. Europe/Moscow") from None
        return value

    @field_validator("bitrix24_webhook_url")
    @classmethod
    def _check_bitrix24_url(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value().strip()
        if not url:
            return SecretStr("")
        # The code in the URL is a credential: only ever sent over TLS.
        if not re.fullmatch(r"https://[A-Za-z0-9.-]+(:\d+)?/rest/\d+/[A-Za-z0-9_]+/?", url):
            raise ValueError(
                "DL_BITRIX24_WEBHOOK_URL must look like https://<portal>/rest/<user id>/<code>/"
            )
        return SecretStr(url.rstrip("/") + "/")

    @model_validator(mode="after")
    def _check_worker(self) -> "Settings":
        # A lease shorter than a delivery lets a second worker send the same one meanwhile.
        if self.worker_lease_seconds <= self.webhook_timeout_seconds:
            raise ValueError("DL_WORKER_LEASE_SECONDS must exceed DL_WEBHOOK_TIMEOUT_SECONDS")
        return self

    @model_validator(mode="after")
    def _default_docs(self) -> "Settings":
        if self.docs_enabled is None:
            self.docs_enabled = self.environment != Environment.production
        return self

    @model_validator(mode="after")
    def _check_secret(self) -> "Settings":
        if len(self.jwt_secret.encode()) >= MIN_SECRET_BYTES:
            return self
        if self.environment == Environment.production:
            raise ValueError(
                f"DL_JWT_SECRET must be set to at least {MIN_SECRET_BYTES} bytes in production"
            )
        if self.jwt_secret:
            raise ValueError(f"DL_JWT_SECRET is shorter than {MIN_SECRET_BYTES} bytes")
        self.jwt_secret = _development_secret()
        return self

    @model_validator(mode="after")
    def _refuse_development_defaults(self) -> "Settings":
        """Defaults that make development easy and production wrong: each one would start
        fine and fail quietly later (e-mails only logged, links to a laptop, a database one
        replica can write, any site calling the API with a member's browser)."""
        if self.environment != Environment.production:
            return self
        problems = []
        if self.mail_transport == "console":
            problems.append(
                "DL_MAIL_TRANSPORT=console only logs e-mails: set DL_MAIL_TRANSPORT=smtp "
                "and DL_SMTP_HOST"
            )
        if self.web_app_url.rstrip("/") == DEFAULT_WEB_APP_URL:
            problems.append(
                f"DL_WEB_APP_URL is the development default ({DEFAULT_WEB_APP_URL}): set it "
                "to the web app's address, where e-mailed links point"
            )
        if self.public_api_url.rstrip("/") == DEFAULT_WEB_APP_URL:
            problems.append(
                f"DL_PUBLIC_API_URL is the development default ({DEFAULT_WEB_APP_URL}): set it "
                "to the API's public address, which unsubscribe links and calendar feeds use"
            )
        if self.is_sqlite and not self.allow_sqlite_in_production:
            problems.append(
                "DL_DATABASE_URL is SQLite: use PostgreSQL, or set "
                "DL_ALLOW_SQLITE_IN_PRODUCTION=true if a single process on SQLite is meant"
            )
        if "*" in self.cors_origins:
            problems.append('DL_CORS_ORIGINS contains "*": list the web app\'s origins instead')
        if problems:
            raise ValueError("refused in production:\n- " + "\n- ".join(problems))
        return self

    @property
    def bitrix24_enabled(self) -> bool:
        return bool(self.bitrix24_webhook_url.get_secret_value())

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _development_secret() -> str:
    """A random secret generated once and kept under var/, so tokens survive restarts."""
    path = VAR_DIR / "jwt_secret"
    if path.exists():
        stored = path.read_text().strip()
        if len(stored.encode()) >= MIN_SECRET_BYTES:
            return stored
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.write_text(secret)
    path.chmod(0o600)
    return secret


@lru_cache
def get_settings() -> Settings:
    return Settings()
