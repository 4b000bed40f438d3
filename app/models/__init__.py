"""Every table, imported here so SQLModel and Alembic see one complete metadata."""

from app.models.audit import AuditEntry
from app.models.crm import CrmLink, CrmSyncRun
from app.models.idempotency import IdempotencyRecord
from app.models.member import ConsentChange, Member, MemberRole
from app.models.outbox import OutboxEvent
from app.models.token import ApiToken, LoginFailure, RefreshToken

__all__ = [
    "ApiToken",
    "AuditEntry",
    "ConsentChange",
    "CrmLink",
    "CrmSyncRun",
    "IdempotencyRecord",
    "LoginFailure",
    "Member",
    "MemberRole",
    "OutboxEvent",
    "RefreshToken",
]
