"""Every query of seating: attendees and their attributes, pair history, plans, tables."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.models.case import CASES_AT_TABLES, Case
from app.models.event import Event
from app.models.member import Member, MemberRole, Role
from app.models.registration import Registration, RegistrationStatus
from app.models.table import (
    EventMessage,
    EventTable,
    PlanStatus,
    SeatingKeepApart,
    SeatingPin,
    SeatingPlan,
    TableSeat,
)

ATTENDING = (RegistrationStatus.confirmed, RegistrationStatus.checked_in)
# Cases that take a seat at a table: seating spreads their authors.


@dataclass(frozen=True)
class AttendeeRow:
    id: uuid.UUID
    full_name: str
    function: str | None
    seniority: int | None
    company: str | None
    facilitator: bool
    has_case: bool


async def event(
    session: AsyncSession, event_id: uuid.UUID, *, for_update: bool = False
) -> Event | None:
    query = select(Event).where(Event.id == event_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def attending(session: AsyncSession, event_id: uuid.UUID) -> set[uuid.UUID]:
    """The ids of the members attending the event (confirmed or checked in)."""
    rows = await session.execute(
        select(Registration.member_id).where(
            Registration.event_id == event_id,
            Registration.member_id.is_not(None),
            Registration.status.in_(ATTENDING),
        )
    )
    return {m for m in rows.scalars() if m is not None}


async def attendees(
    session: AsyncSession, event_id: uuid.UUID, member_ids: Sequence[uuid.UUID] | None = None
) -> list[AttendeeRow]:
    """The members attending (confirmed or checked in), or the named ones, with what seating
    needs to know of them."""
    wanted = sorted(await attending(session, event_id)) if member_ids is None else list(member_ids)
    if not wanted:
        return []
    members = (
        (await session.execute(select(Member).where(Member.id.in_(wanted)).order_by(Member.id)))
        .scalars()
        .all()
    )
    facilitators = set(
        (
            await session.execute(
                select(MemberRole.member_id).where(
                    MemberRole.role == Role.facilitator, MemberRole.member_id.in_(wanted)
                )
            )
        ).scalars()
    )
    authors = set(
        (
            await session.execute(
                select(Case.author_id).where(
                    Case.event_id == event_id, Case.status.in_(CASES_AT_TABLES)
                )
            )
        ).scalars()
    )
    return [
        AttendeeRow(
            m.id,
            m.full_name,
            m.function,
            m.seniority,
            m.company,
            m.id in facilitators,
            m.id in authors,
        )
        for m in members
    ]


async def pair_history(
    session: AsyncSession, event: Event, member_ids: Sequence[uuid.UUID]
) -> list[tuple[uuid.UUID, uuid.UUID, int, date]]:
    """(a, b, times, last met) for attendees who shared a published table at earlier events."""
    if not member_ids:
        return []
    mine, other = aliased(TableSeat), aliased(TableSeat)
    rows = await session.execute(
        select(mine.member_id, other.member_id, func.count(), func.max(Event.starts_at))
        .join(other, (other.table_id == mine.table_id) & (other.member_id > mine.member_id))
        .join(Event, Event.id == mine.event_id)
        .where(
            mine.member_id.in_(member_ids),
            other.member_id.in_(member_ids),
            mine.event_id != event.id,
            Event.starts_at < event.starts_at,
        )
        .group_by(mine.member_id, other.member_id)
    )
    return [(a, b, times, _day(last)) for a, b, times, last in rows.all()]


def _day(value: datetime | str) -> date:
    # SQLite hands back an aggregate's timestamp as text.
    if isinstance(value, str):
        return datetime.fromisoformat(value).date()
    return value.date()


async def pins(session: AsyncSession, event_id: uuid.UUID) -> dict[uuid.UUID, int]:
    rows = await session.execute(
        select(SeatingPin.member_id, SeatingPin.table_number).where(SeatingPin.event_id == event_id)
    )
    return {m: t for m, t in rows.all()}


async def keep_apart(
    session: AsyncSession, event_id: uuid.UUID
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    rows = await session.execute(
        select(SeatingKeepApart.member_a, SeatingKeepApart.member_b)
        .where(SeatingKeepApart.event_id == event_id)
        .order_by(SeatingKeepApart.member_a, SeatingKeepApart.member_b)
    )
    return [(a, b) for a, b in rows.all()]


async def current_plan(
    session: AsyncSession, event_id: uuid.UUID, *, for_update: bool = False
) -> SeatingPlan | None:
    """The plan being worked on: the latest draft, else the published one."""
    query = (
        select(SeatingPlan)
        .where(
            SeatingPlan.event_id == event_id,
            SeatingPlan.status.in_([PlanStatus.draft, PlanStatus.published]),
        )
        .order_by(
            SeatingPlan.status == PlanStatus.published,  # drafts first
            SeatingPlan.created_at.desc(),
        )
        .limit(1)
    )
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def drop_drafts(session: AsyncSession, event_id: uuid.UUID) -> None:
    await session.execute(
        delete(SeatingPlan).where(
            SeatingPlan.event_id == event_id, SeatingPlan.status == PlanStatus.draft
        )
    )


async def published_plans(session: AsyncSession, event_id: uuid.UUID) -> Sequence[SeatingPlan]:
    rows = await session.execute(
        select(SeatingPlan).where(
            SeatingPlan.event_id == event_id, SeatingPlan.status == PlanStatus.published
        )
    )
    return rows.scalars().all()


async def drop_tables(session: AsyncSession, event_id: uuid.UUID) -> None:
    await session.execute(delete(EventTable).where(EventTable.event_id == event_id))


async def tables(session: AsyncSession, event_id: uuid.UUID) -> Sequence[EventTable]:
    return (
        (
            await session.execute(
                select(EventTable)
                .where(EventTable.event_id == event_id)
                .order_by(EventTable.round, EventTable.number)
            )
        )
        .scalars()
        .all()
    )


# The reads behind a table's view, built once (lists as expanding parameters) so each request
# finds them compiled: /tables/mine is among the most frequent reads on an event day.
_SEATS = select(TableSeat.table_id, TableSeat.member_id).where(
    TableSeat.table_id.in_(bindparam("table_ids", expanding=True))
)
_TABLES_SEATING = (
    select(EventTable)
    .join(TableSeat, TableSeat.table_id == EventTable.id)
    .where(
        TableSeat.event_id == bindparam("event_id"), TableSeat.member_id == bindparam("member_id")
    )
    .order_by(EventTable.round)
)
_TABLES_FACILITATED = (
    select(EventTable)
    .where(
        EventTable.event_id == bindparam("event_id"),
        EventTable.facilitator_id == bindparam("member_id"),
    )
    .order_by(EventTable.round, EventTable.number)
)
_MEMBERS = (
    select(Member)
    .where(Member.id.in_(bindparam("member_ids", expanding=True)))
    .order_by(Member.full_name, Member.id)
)
_CASES_AT = (
    select(Case)
    .where(Case.table_id.in_(bindparam("table_ids", expanding=True)))
    .order_by(Case.created_at)
)


async def seats(
    session: AsyncSession, table_ids: Sequence[uuid.UUID]
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(table id, member id) for the given tables."""
    if not table_ids:
        return []
    rows = await session.execute(_SEATS, {"table_ids": list(table_ids)})
    return [(t, m) for t, m in rows.all()]


async def tables_of(
    session: AsyncSession, event_id: uuid.UUID, member_id: uuid.UUID
) -> tuple[list[EventTable], bool]:
    """The published tables a member sits at, one per round in order; else the tables they
    facilitate without a seat. The flag says whether the member is seated at them."""
    params = {"event_id": event_id, "member_id": member_id}
    found = list((await session.execute(_TABLES_SEATING, params)).scalars().all())
    if found:
        return found, True
    rows = await session.execute(_TABLES_FACILITATED, params)
    first_each_round: dict[int, EventTable] = {}
    for table in rows.scalars().all():
        first_each_round.setdefault(table.round, table)
    return list(first_each_round.values()), False


async def attendance(
    session: AsyncSession, event: Event, member_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, float]:
    """The share of the earlier seated events each member sat at (0 to 1): who comes often."""
    if not member_ids:
        return {}
    earlier = (
        select(TableSeat.event_id)
        .join(Event, Event.id == TableSeat.event_id)
        .where(Event.starts_at < event.starts_at, TableSeat.event_id != event.id)
        .distinct()
        .subquery()
    )
    total = await session.scalar(select(func.count()).select_from(earlier))
    if not total:
        return {}
    rows = await session.execute(
        select(TableSeat.member_id, func.count(func.distinct(TableSeat.event_id)))
        .where(
            TableSeat.member_id.in_(member_ids),
            TableSeat.event_id.in_(select(earlier.c.event_id)),
        )
        .group_by(TableSeat.member_id)
    )
    return {member: count / total for member, count in rows.all()}


async def members(session: AsyncSession, member_ids: Sequence[uuid.UUID]) -> Sequence[Member]:
    if not member_ids:
        return []
    rows = await session.execute(_MEMBERS, {"member_ids": list(member_ids)})
    return rows.scalars().all()


async def cases_at(session: AsyncSession, table_ids: Sequence[uuid.UUID]) -> Sequence[Case]:
    if not table_ids:
        return []
    return (await session.execute(_CASES_AT, {"table_ids": list(table_ids)})).scalars().all()


async def message_audience(
    session: AsyncSession,
    event_id: uuid.UUID,
    statuses: Sequence[str],
    table_ids: Sequence[uuid.UUID] | None,
) -> list[uuid.UUID]:
    """Members of the event in these statuses (and at these tables, if given)."""
    query = select(Registration.member_id).where(
        Registration.event_id == event_id,
        Registration.member_id.is_not(None),
        Registration.status.in_(list(statuses)),
    )
    if table_ids is not None:
        query = query.where(
            Registration.member_id.in_(
                select(TableSeat.member_id).where(TableSeat.table_id.in_(list(table_ids)))
            )
        )
    rows = await session.execute(query.order_by(Registration.member_id))
    return [m for m in rows.scalars() if m is not None]


async def facilitated_tables(
    session: AsyncSession, event_id: uuid.UUID, facilitator_id: uuid.UUID
) -> list[uuid.UUID]:
    rows = await session.execute(
        select(EventTable.id).where(
            EventTable.event_id == event_id, EventTable.facilitator_id == facilitator_id
        )
    )
    return list(rows.scalars())


async def message(session: AsyncSession, message_id: uuid.UUID) -> EventMessage | None:
    return await session.get(EventMessage, message_id)
