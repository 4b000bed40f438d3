"""Inbound messages from partners (Timepad, Bitrix24), stored raw before anything else.

Nothing received is lost: the row is committed before processing starts, processing is
idempotent, and a scheduled job retries what failed.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.models.base import JSONType, UTCDateTime, created_at_field, uuid_pk


class InboxMessage(SQLModel, table=True):
    __tablename__ = "inbox_message"
    __table_args__ = (
        # The same delivery twice (a partner's retry, a replay) is stored once.
        UniqueConstraint("source", "dedupe_key", name="uq_inbox_message_source_dedupe_key"),
        Index(
            "ix_inbox_message_unprocessed",
            "received_at",
            postgresql_where=text("processed_at IS NULL"),
            sqlite_where=text("processed_at IS NULL"),
        ),
    )

    id: uuid.UUID = uuid_pk()
    source: str = Field(sa_type=String(32))
    # A hash of the raw body unless the partner gives a better identity.
    dedupe_key: str = Field(sa_type=String(128))
    body: str = Field(sa_type=Text)
    headers: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    received_at: datetime = created_at_field()
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, sa_type=String(500))
