"""Every query of the events domain."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Row, Select, bindparam, func, select, tuple_
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


# An event as the lists read it: a row with the event table's columns as attributes.
EventRow = Row[Any]
_event = Event.__table__
_NOW = bindparam("now", type_=_event.c.ends_at.type)


@lru_cache(maxsize=32)
def _list_template(visibilities: bool, upcoming: bool | None, after: bool) -> Select[Any]:
    """One statement per shape, built once (statuses and visibilities as expanding lists), so
    the compiled form is cached; table columns rather than the entity, since the lists only
    read them and the ORM's identity map costs more than the query."""
    query = select(*_event.c).where(_event.c.status.in_(bindparam("statuses", expanding=True)))
    if visibilities:
        query = query.where(_event.c.visibility.in_(bindparam("visibilities", expanding=True)))
    descending = upcoming is False
    if upcoming is True:
        query = query.where(_event.c.ends_at >= _NOW)
    elif upcoming is False:
        query = query.where(_event.c.ends_at < _NOW)
    key = tuple_(_event.c.starts_at, _event.c.id)
    if after:
        bound = tuple_(
            bindparam("after_starts_at", type_=_event.c.starts_at.type),
            bindparam("after_id", type_=_event.c.id.type),
        )
        query = query.where(key < bound if descending else key > bound)
    order = (
        (_event.c.starts_at.desc(), _event.c.id.desc())
        if descending
        else (_event.c.starts_at, _event.c.id)
    )
    return query.order_by(*order).limit(bindparam("limit"))


async def list_events(
    session: AsyncSession,
    *,
    statuses: Sequence[str],
    visibilities: Sequence[str] | None,
    upcoming: bool | None,
    now: datetime,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[EventRow]:
    """Upcoming events soonest first; past events latest first; keyset-paged."""
    stmt = _list_template(visibilities is not None, upcoming, after is not None)
    params: dict[str, Any] = {"statuses": list(statuses), "limit": limit + 1}
    if visibilities is not None:
        params["visibilities"] = list(visibilities)
    if upcoming is not None:
        params["now"] = now
    if after is not None:
        params.update(after_starts_at=after[0], after_id=after[1])
    connection = await session.connection()
    return list((await connection.execute(stmt, params)).all())


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
