"""Shapes of the Timepad endpoints."""

import uuid

from pydantic import Field

from app.core.schemas import ReadSchema, UTCTimestamp


class UnusableMessage(ReadSchema):
    """A signed body from Timepad that can never be applied: kept, never retried."""

    id: uuid.UUID
    received_at: UTCTimestamp
    error: str = Field(description="Why it cannot be applied.")
    size_bytes: int


class WebhookAccepted(ReadSchema):
    status: str = Field(
        description="`processed`, `duplicate` (seen before) or `queued` "
        "(stored; processing is retried by a job)"
    )


class DriftEntry(ReadSchema):
    order_id: int
    email: str | None
    timepad_status: str | None
    our_status: str | None


class DriftReport(ReadSchema):
    orders_in_timepad: int
    missing_here: list[DriftEntry] = Field(
        description="Orders Timepad has and we had not: created now."
    )
    status_differs: list[DriftEntry] = Field(
        description="Orders whose status we held differently: repaired now."
    )
    missing_there: list[DriftEntry] = Field(
        description="Registrations linked to a Timepad order Timepad no longer lists."
    )
