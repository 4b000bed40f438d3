"""Writing the audit log, in the caller's transaction so an entry exists iff the change does."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.context import RequestContext
from app.models.audit import AuditEntry


def record(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID | None,
    action: str,
    target_type: str,
    target_id: uuid.UUID | None,
    context: RequestContext | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an audit entry. ``details`` must hold field names and ids, never values of
    private fields or secrets."""
    session.add(
        AuditEntry(
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            client_address=context.client_address if context else None,
            request_id=context.request_id if context else None,
            details=details or {},
        )
    )
