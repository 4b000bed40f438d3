"""The body a receiver gets: a thin envelope around the event's privacy-filtered data."""

import json
from typing import Any

from app.models.outbox import OutboxEvent


def envelope(event: OutboxEvent) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "type": event.type,
        "type_version": event.type_version,
        "occurred_at": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "data": event.data,
    }


def body_of(event: OutboxEvent) -> bytes:
    # Serialised once per attempt with a fixed key order: the signed bytes are the sent bytes.
    return json.dumps(envelope(event), ensure_ascii=False, separators=(",", ":")).encode()
