"""Refresh tokens, personal API tokens, e-mailed account links and throttle hits: the state
behind authentication."""

import uuid
from datetime import datetime
from enum import StrEnum

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


class LinkPurpose(StrEnum):
    verify_email = "verify_email"
    invitation = "invitation"
    password_reset = "password_reset"


class AccountLink(SQLModel, table=True):
    """A single-use link e-mailed to an account: verify the address, accept an invitation, or
    reset the password.

    Only the SHA-256 of the token is stored. The token itself is an HMAC, under the server's
    secret, of the row's id and its random ``salt`` (128 bits from ``secrets``), so the e-mail
    built later by the worker can carry it while the database alone cannot produce it.
    ``state`` fingerprints what the link was issued against (the address; for invitations and
    resets the password too): once that changes, the link is dead.
    """

    __tablename__ = "account_link"
    __table_args__ = (Index("ix_account_link_member_purpose", "member_id", "purpose"),)

    id: uuid.UUID = uuid_pk()
    member_id: uuid.UUID = Field(foreign_key="member.id", ondelete="CASCADE")
    purpose: str = Field(sa_type=String(16))
    token_hash: str = Field(sa_type=String(64), unique=True)
    salt: str = Field(sa_type=String(32))
    state: str = Field(sa_type=String(64))
    created_at: datetime = created_at_field()
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LoginFailure(SQLModel, table=True):
    """One throttle hit, counted per key in the database (so every API process sees the same
    count): a failed login per account and per client address, and the requests that send
    e-mail (sign-up, password reset, verification) per address and per client."""

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_key_occurred_at", "key", "occurred_at"),)

    id: uuid.UUID = uuid_pk()
    # "account:<normalized e-mail>", "address:<ip>", or "<what>:account|address|member:<...>"
    key: str = Field(sa_type=String(300))
    occurred_at: datetime = created_at_field()
