import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import repository
from app.audit.schemas import AuditEntryRead
from app.core.pagination import InvalidCursor, Page, decode_cursor, encode_cursor

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
    before = None
    if cursor:
        raw_time, raw_id = decode_cursor(cursor, _SORT, 2)
        try:
            occurred_at = datetime.fromisoformat(str(raw_time))
            if occurred_at.tzinfo is None:  # a cursor is client input: no naive times
                raise ValueError("naive timestamp")
            before = (occurred_at, uuid.UUID(str(raw_id)))
        except ValueError as error:
            raise InvalidCursor("The cursor is malformed.") from error
    rows = await repository.list_entries(
        session, actor_id=actor_id, target_id=target_id, action=action, before=before,
        limit=limit,
    )
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_cursor(_SORT, [last.occurred_at.isoformat(), str(last.id)])
    return Page[AuditEntryRead](
        items=[AuditEntryRead.model_validate(e) for e in page], next_cursor=next_cursor
    )
