"""Stored outcomes of creating POSTs sent with an ``Idempotency-Key``."""

import uuid
from datetime import datetime

from sqlalchemy import Index, LargeBinary, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import JSONType, UTCDateTime, created_at_field, uuid_pk


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"
    __table_args__ = (
        UniqueConstraint("caller", "key", name="uq_idempotency_record_caller_key"),
        Index("ix_idempotency_record_expires_at", "expires_at"),
    )

    id: uuid.UUID = uuid_pk()
    # Who sent it (member id, or the client address for anonymous calls) plus method and path.
    caller: str = Field(sa_type=String(400))
    key: str = Field(sa_type=String(255))
    request_hash: str = Field(sa_type=String(64))
    # None while the first request is still in flight.
    response_status: int | None = None
    response_headers: dict[str, str] = Field(default_factory=dict, sa_type=JSONType)
    response_body: bytes | None = Field(default=None, sa_type=LargeBinary)
    created_at: datetime = created_at_field()
    expires_at: datetime = Field(sa_type=UTCDateTime)
