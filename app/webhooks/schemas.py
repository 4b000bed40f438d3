"""Shapes of the webhook management API."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from app.core.outbox import CATALOGUE
from app.core.schemas import InputSchema, Keep, ReadSchema, UTCTimestamp
from app.models.webhook import DeliveryStatus


def _known_event_types(schema: dict[str, Any]) -> None:
    """Lists the catalogue's names in the contract. Called when the document is built, once
    every domain has declared its events."""
    names = sorted(t.name for t in CATALOGUE.all())
    for branch in [schema, *schema.get("anyOf", [])]:
        if branch.get("type") == "array":
            branch["items"] = {"type": "string", "enum": names}


EVENT_TYPES_DESCRIPTION = (
    "Event types to receive (see `/webhooks/event-types`); empty means all, including types "
    "added later."
)


class SubscriptionCreate(InputSchema):
    url: str = Field(min_length=1, max_length=2048, description="An https URL of the receiver.")
    event_types: list[str] = Field(
        default_factory=list,
        max_length=100,
        description=EVENT_TYPES_DESCRIPTION,
        json_schema_extra=_known_event_types,
    )
    description: str = Field(default="", max_length=500)
    enabled: bool = True

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "url": "https://crm.example.com/hooks/digital-leaders",
                    "event_types": ["registration.confirmed"],
                    "description": "CRM sync",
                }
            ]
        }
    }


class SubscriptionUpdate(InputSchema):
    url: Keep[str] = Field(default=None, min_length=1, max_length=2048)
    event_types: list[str] | None = Field(
        default=None,
        max_length=100,
        description=EVENT_TYPES_DESCRIPTION,
        json_schema_extra=_known_event_types,
    )
    description: Keep[str] = Field(default=None, max_length=500)
    enabled: bool | None = Field(
        default=None, description="Re-enabling clears the failure record and the reason."
    )

    model_config = {"json_schema_extra": {"examples": [{"enabled": True}, {"event_types": []}]}}


class SubscriptionRead(ReadSchema):
    id: uuid.UUID
    url: str
    event_types: list[str]
    description: str
    enabled: bool
    disabled_reason: str | None = Field(
        description="`admin`, `gone` (the receiver answered 410) or `failing` (no success "
        "for days); null while enabled."
    )
    failing_since: UTCTimestamp | None
    secret_rotation_ends_at: UTCTimestamp | None = Field(
        description="While set, deliveries are signed with the previous secret as well."
    )
    created_at: UTCTimestamp
    updated_at: UTCTimestamp
    version: int


class SubscriptionWithSecret(SubscriptionRead):
    secret: str = Field(description="The signing secret (`whsec_...`); shown only this once.")


class EventTypeRead(ReadSchema):
    name: str
    version: int
    description: str
    subject_type: str
    data_schema: dict[str, Any] = Field(
        description="JSON Schema of the event's `data`; the envelope is `{id, type, "
        "type_version, occurred_at, data}`."
    )


class AttemptRead(ReadSchema):
    attempted_at: UTCTimestamp
    status_code: int | None
    latency_ms: int
    response_excerpt: str
    error: str | None


class DeliveryRead(ReadSchema):
    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    message_id: str = Field(description="The `webhook-id` header of every attempt.")
    status: DeliveryStatus
    attempts: int
    next_attempt_at: UTCTimestamp | None
    last_attempt_at: UTCTimestamp | None
    last_status_code: int | None
    last_error: str | None
    created_at: UTCTimestamp
    completed_at: UTCTimestamp | None


class DeliveryDetail(DeliveryRead):
    payload: dict[str, Any] = Field(description="The body sent, as JSON.")
    attempt_log: list[AttemptRead]


class RedeliverFailed(InputSchema):
    since: datetime = Field(description="Redeliver failed deliveries created at or after this.")

    model_config = {"json_schema_extra": {"examples": [{"since": "2026-11-20T00:00:00Z"}]}}


class RedeliveryAccepted(ReadSchema):
    requeued: int = Field(description="How many deliveries were made due again.")
    delivery_ids: list[uuid.UUID]
