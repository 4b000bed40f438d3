"""The transactional outbox: one row per domain event, written in the transaction of the change.

A row exists if and only if the change it describes committed. The relay (worker) reads rows
in `occurred_at, id` order and fans them out to webhook subscriptions, e-mail and the CRM.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, text
from sqlmodel import Field, SQLModel

from app.models.base import JSONType, UTCDateTime, created_at_field, uuid_pk


class OutboxEvent(SQLModel, table=True):
    __tablename__ = "outbox_event"
    __table_args__ = (
        # The relay's claim query: undispatched rows, oldest first.
        Index(
            "ix_outbox_event_pending",
            "occurred_at",
            "id",
            postgresql_where=text("dispatched_at IS NULL"),
            sqlite_where=text("dispatched_at IS NULL"),
        ),
        Index("ix_outbox_event_subject", "subject_type", "subject_id"),
    )

    # The event id: also the stable `webhook-id` of every delivery of this event.
    id: uuid.UUID = uuid_pk()
    type: str = Field(sa_type=String(64), index=True)
    type_version: int
    occurred_at: datetime = created_at_field()
    # The resource the event is about (for example "application" and its id).
    subject_type: str = Field(sa_type=String(32))
    subject_id: uuid.UUID
    # The thin, privacy-filtered payload: validated against the event type's schema on emit.
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    # Set once the relay has fanned the event out; a NULL row is still to be relayed.
    dispatched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
