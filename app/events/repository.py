"""Every query of the events domain."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.event import Event
from app.models.registration import Registration


async def get(session: AsyncSession, event_id: uuid.UUID) -> Event | None:
    return await session.get(Event, event_id)


async def get_for_update(session: AsyncSession, event_id: uuid.UUID) -> Event | None:
    rows = await session.execute(select(Event).where(Event.id == event_id).with_for_update())
    return rows.scalar_one_or_none()


async def by_timepad_id(session: AsyncSession, timepad_event_id: int) -> Event | None:
    rows = await session.execute(select(Event).where(Event.timepad_event_id == timepad_event_id))
    return rows.scalar_one_or_none()


async def add(session: AsyncSession, event: Event) -> None:
    session.add(event)
    await session.flush()


async def list_events(
    session: AsyncSession,
    *,
    statuses: Sequence[str],
    visibilities: Sequence[str] | None,
    upcoming: bool | None,
    now: datetime,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Event]:
    """Upcoming events soonest first; past events latest first; keyset-paged."""
    query = select(Event).where(Event.status.in_(statuses))
    if visibilities is not None:
        query = query.where(Event.visibility.in_(visibilities))
    descending = upcoming is False
    if upcoming is True:
        query = query.where(Event.ends_at >= now)
    elif upcoming is False:
        query = query.where(Event.ends_at < now)
    key = tuple_(Event.starts_at, Event.id)
    if after is not None:
        query = query.where(key < tuple_(*after) if descending else key > tuple_(*after))
    order = (Event.starts_at.desc(), Event.id.desc()) if descending else (Event.starts_at, Event.id)
    rows = await session.execute(query.order_by(*order).limit(limit + 1))
    return list(rows.scalars())


async def status_counts(session: AsyncSession, event_id: uuid.UUID) -> dict[str, int]:
    rows = await session.execute(
        select(Registration.status, func.count())
        .where(Registration.event_id == event_id)
        .group_by(Registration.status)
    )
    return {row[0]: int(row[1]) for row in rows.all()}


async def linked_to_timepad(session: AsyncSession, statuses: Sequence[str]) -> list[Event]:
    rows = await session.execute(
        select(Event).where(Event.timepad_event_id.is_not(None), Event.status.in_(statuses))
    )
    return list(rows.scalars())
