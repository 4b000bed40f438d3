"""Refresh tokens, personal API tokens and login failures: the state behind authentication."""

import uuid
from datetime import datetime

from sqlalchemy import Index, String
from sqlmodel import Field, SQLModel

from app.models.base import JSONType, UTCDateTime, created_at_field, uuid_pk


class RefreshToken(SQLModel, table=True):
    """An opaque refresh token, stored as its SHA-256. Rotation keeps one family per login."""

    __tablename__ = "refresh_token"

    id: uuid.UUID = uuid_pk()
    member_id: uuid.UUID = Field(foreign_key="member.id", ondelete="CASCADE", index=True)
    family_id: uuid.UUID = Field(index=True)
    token_hash: str = Field(sa_type=String(64), unique=True)
    created_at: datetime = created_at_field()
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiToken(SQLModel, table=True):
    """A personal API token (``dl_pat_...``) for scripts, stored as its SHA-256."""

    __tablename__ = "api_token"

    id: uuid.UUID = uuid_pk()
    member_id: uuid.UUID = Field(foreign_key="member.id", ondelete="CASCADE", index=True)
    name: str = Field(sa_type=String(100))
    token_hash: str = Field(sa_type=String(64), unique=True)
    # The first characters, shown in listings so owners can tell their tokens apart.
    prefix: str = Field(sa_type=String(16))
    scopes: list[str] = Field(default_factory=list, sa_type=JSONType)
    created_at: datetime = created_at_field()
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LoginFailure(SQLModel, table=True):
    """One failed login, counted per account and per client address (in the database, so
    every API process sees the same count)."""

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_key_occurred_at", "key", "occurred_at"),)

    id: uuid.UUID = uuid_pk()
    # "account:<normalized e-mail>" or "address:<ip>"
    key: str = Field(sa_type=String(300))
    occurred_at: datetime = created_at_field()
