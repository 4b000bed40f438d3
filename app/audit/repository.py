import uuid
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.audit import AuditEntry


async def list_entries(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID | None,
    target_id: uuid.UUID | None,
    action: str | None,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[AuditEntry]:
    """Newest first, keyset-paged on (occurred_at, id)."""
    stmt = select(AuditEntry)
    if actor_id is not None:
        stmt = stmt.where(AuditEntry.actor_id == actor_id)
    if target_id is not None:
        stmt = stmt.where(AuditEntry.target_id == target_id)
    if action is not None:
        stmt = stmt.where(AuditEntry.action == action)
    if before is not None:
        stmt = stmt.where(tuple_(AuditEntry.occurred_at, AuditEntry.id) < tuple_(*before))
    stmt = stmt.order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc())
    result = await session.execute(stmt.limit(limit + 1))
    return list(result.scalars())
