"""The inbox every inbound integration shares: store a partner's message raw before
anything else, claim it for processing once, record the outcome."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.models.inbox import InboxMessage


async def store(
    session: AsyncSession, *, source: str, dedupe_key: str, body: str, headers: dict[str, Any]
) -> InboxMessage | None:
    """Keep the message unless the very same one is stored already (then None)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    message_id = uuid.uuid4()
    inserted = await session.execute(
        dialect.insert(InboxMessage)
        .values(
            id=message_id,
            source=source,
            dedupe_key=dedupe_key,
            body=body,
            headers=headers,
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=["source", "dedupe_key"])
        .returning(InboxMessage.id)
    )
    if inserted.scalar_one_or_none() is None:
        return None
    return await session.get(InboxMessage, message_id)


async def claim(session: AsyncSession, message_id: uuid.UUID) -> InboxMessage | None:
    """The message, locked, if nobody processed or holds it."""
    rows = await session.execute(
        select(InboxMessage)
        .where(InboxMessage.id == message_id, InboxMessage.processed_at.is_(None))
        .with_for_update(skip_locked=True)
    )
    return rows.scalar_one_or_none()


async def unprocessed(session: AsyncSession, source: str, limit: int) -> list[InboxMessage]:
    rows = await session.execute(
        select(InboxMessage)
        .where(InboxMessage.source == source, InboxMessage.processed_at.is_(None))
        .order_by(InboxMessage.received_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows.scalars())


async def unusable(
    session: AsyncSession,
    source: str,
    prefix: str,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[InboxMessage]:
    """Processed messages kept as unusable (their error starts with ``prefix``), newest
    first; ``limit`` + 1 to know whether another page follows."""
    query = select(InboxMessage).where(
        InboxMessage.source == source,
        InboxMessage.processed_at.is_not(None),
        col(InboxMessage.last_error).startswith(prefix, autoescape=True),
    )
    if after is not None:
        query = query.where(tuple_(InboxMessage.received_at, InboxMessage.id) < tuple_(*after))
    query = query.order_by(InboxMessage.received_at.desc(), InboxMessage.id.desc())
    return list((await session.execute(query.limit(limit + 1))).scalars())


def mark(message: InboxMessage, now: datetime, error: str | None) -> None:
    message.attempts += 1
    if error is None:
        message.processed_at = now
        message.last_error = None
    else:
        message.last_error = error[:500]
