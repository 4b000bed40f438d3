import uuid
from typing import Any

from app.core.schemas import ReadSchema, UTCTimestamp


class AuditEntryRead(ReadSchema):
    id: uuid.UUID
    occurred_at: UTCTimestamp
    actor_id: uuid.UUID | None
    action: str
    target_type: str
    target_id: uuid.UUID | None
    client_address: str | None
    request_id: str | None
    details: dict[str, Any]
