"""Outbound delivery: webhook subscriptions, one delivery per (event, destination), attempts.

A delivery is the unit the worker claims (`FOR UPDATE SKIP LOCKED` plus a lease), retries
with backoff and finally marks succeeded or failed. Channels other than webhooks (e-mail, the
CRM) use the same rows, so every consumer of the outbox gets the same guarantees.
"""

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, Text, Uuid, text
from sqlmodel import Field, SQLModel

from app.models.base import JSONType, UTCDateTime, created_at_field, uuid_pk


class DeliveryChannel(enum.StrEnum):
    webhook = "webhook"
    email = "email"
    crm = "crm"


class DeliveryStatus(enum.StrEnum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"


class WebhookSubscription(SQLModel, table=True):
    __tablename__ = "webhook_subscription"

    id: uuid.UUID = uuid_pk()
    url: str = Field(sa_type=String(2048))
    description: str = Field(default="", sa_type=String(500))
    # Empty means every event type, including ones declared later.
    event_types: list[str] = Field(default_factory=list, sa_type=JSONType)
    enabled: bool = Field(default=True)
    # Why it is disabled when it is: "admin", "gone" (the receiver answered 410) or "failing".
    disabled_reason: str | None = Field(default=None, sa_type=String(16))
    # The signing secret must be readable to sign with; it is never returned after creation.
    secret: str = Field(sa_type=String(128))
    # During a rotation the old secret signs too, until it expires.
    previous_secret: str | None = Field(default=None, sa_type=String(128))
    previous_secret_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # First failure of the current unbroken run of failures; cleared by any success.
    failing_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by: uuid.UUID | None = Field(default=None)
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()
    version: int = Field(default=1)


class Delivery(SQLModel, table=True):
    __tablename__ = "delivery"
    __table_args__ = (
        # The claim query: due pending deliveries, oldest due first.
        Index(
            "ix_delivery_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index("ix_delivery_subscription_created", "subscription_id", "created_at", "id"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    )

    id: uuid.UUID = uuid_pk()
    event_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("outbox_event.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    channel: DeliveryChannel = Field(sa_type=String(16))
    subscription_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(
            Uuid, ForeignKey("webhook_subscription.id", ondelete="CASCADE"), nullable=True
        ),
    )
    # For e-mail: the member the message is for (the address is read at send time).
    recipient_id: uuid.UUID | None = Field(default=None)
    status: DeliveryStatus = Field(default=DeliveryStatus.pending, sa_type=String(16))
    attempts: int = Field(default=0)
    next_attempt_at: datetime = created_at_field()
    # A worker holds the delivery until then; a crashed worker's lease simply runs out.
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_token: uuid.UUID | None = Field(default=None)
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status_code: int | None = Field(default=None)
    last_error: str | None = Field(default=None, sa_type=String(500))
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = created_at_field()


class DeliveryAttempt(SQLModel, table=True):
    __tablename__ = "delivery_attempt"
    __table_args__ = (Index("ix_delivery_attempt_delivery", "delivery_id", "attempted_at"),)

    id: uuid.UUID = uuid_pk()
    delivery_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("delivery.id", ondelete="CASCADE"), nullable=False)
    )
    attempted_at: datetime = created_at_field()
    status_code: int | None = Field(default=None)
    latency_ms: int = Field(default=0)
    # The first kilobyte of the receiver's answer, for debugging; never our secrets.
    response_excerpt: str = Field(default="", sa_type=Text)
    error: str | None = Field(default=None, sa_type=String(500))
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
