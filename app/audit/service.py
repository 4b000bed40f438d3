import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import repository
from app.audit.schemas import AuditEntryRead
from app.core.pagination import Page, decode_time_cursor, encode_time_cursor

_SORT = "-occurred_at"


async def list_entries(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID | None,
    target_id: uuid.UUID | None,
    action: str | None,
    cursor: str | None,
    limit: int,
) -> Page[AuditEntryRead]:
    before = decode_time_cursor(cursor, _SORT)
    rows = await repository.list_entries(
        session,
        actor_id=actor_id,
        target_id=target_id,
        action=action,
        before=before,
        limit=limit,
    )
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_time_cursor(_SORT, last.occurred_at, last.id)
    return Page[AuditEntryRead](
        items=[AuditEntryRead.model_validate(e) for e in page], next_cursor=next_cursor
    )
