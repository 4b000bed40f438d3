"""Every query of cases and recommendations, with visibility applied in SQL for lists."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, false, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.models.case import CASES_AT_TABLES, Case, CaseStatus, CaseVisibility, Recommendation
from app.models.event import Event
from app.models.member import Role
from app.models.registration import Registration, RegistrationStatus
from app.models.table import EventTable, TableSeat


async def my_tables(session: AsyncSession, member_id: uuid.UUID) -> set[uuid.UUID]:
    """The published tables a member sits at or facilitates."""
    seated = (
        await session.execute(select(TableSeat.table_id).where(TableSeat.member_id == member_id))
    ).scalars()
    led = (
        await session.execute(select(EventTable.id).where(EventTable.facilitator_id == member_id))
    ).scalars()
    return set(seated) | set(led)


async def facilitated_events(session: AsyncSession, principal: Principal) -> set[uuid.UUID]:
    """The events a facilitator facilitates: the ones they attend (a confirmed or checked-in
    registration) or lead a table at. Empty for anyone without the facilitator role."""
    if not principal.has_role(Role.facilitator):
        return set()
    attending = select(Registration.event_id).where(
        Registration.member_id == principal.id,
        Registration.status.in_((RegistrationStatus.confirmed, RegistrationStatus.checked_in)),
    )
    leading = select(EventTable.event_id).where(EventTable.facilitator_id == principal.id)
    return set((await session.execute(attending.union(leading))).scalars())


def visible_to(
    principal: Principal, tables: set[uuid.UUID], events: set[uuid.UUID] | None = None
) -> ColumnElement[bool]:
    """The SQL form of ``service.may_read``: lists, search and exports all use it."""
    if principal.is_admin:
        return and_(True)
    shared = [Case.visibility == CaseVisibility.members] if principal.sees_members else []
    if principal.has_role(Role.facilitator):
        shared.append(Case.visibility == CaseVisibility.facilitators)
        if events:  # the submitted cases of the events they facilitate, to triage
            shared.append(and_(Case.event_id.in_(events), Case.status == CaseStatus.submitted))
    if tables:
        shared.append(and_(Case.visibility == CaseVisibility.table, Case.table_id.in_(tables)))
    others = and_(Case.status != CaseStatus.draft, or_(*shared)) if shared else false()
    return or_(Case.author_id == principal.id, others)


async def list_cases(
    session: AsyncSession,
    visible: ColumnElement[bool],
    *,
    event_id: uuid.UUID | None,
    status: str | None,
    author_id: uuid.UUID | None,
    search: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int | None,
) -> Sequence[Case]:
    query = select(Case).where(visible)
    if event_id is not None:
        query = query.where(Case.event_id == event_id)
    if status is not None:
        query = query.where(Case.status == status)
    if author_id is not None:
        query = query.where(Case.author_id == author_id)
    if search:
        pattern = (
            "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        query = query.where(
            or_(
                func.lower(Case.title).like(pattern, escape="\\"),
                func.lower(Case.question).like(pattern, escape="\\"),
            )
        )
    if after is not None:
        query = query.where(tuple_(Case.created_at, Case.id) < tuple_(*after))
    query = query.order_by(Case.created_at.desc(), Case.id.desc())
    if limit is not None:
        query = query.limit(limit + 1)
    return (await session.execute(query)).scalars().all()


async def get(
    session: AsyncSession, case_id: uuid.UUID, *, for_update: bool = False
) -> Case | None:
    query = select(Case).where(Case.id == case_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def recommendations(session: AsyncSession, case_id: uuid.UUID) -> Sequence[Recommendation]:
    return (
        (
            await session.execute(
                select(Recommendation)
                .where(Recommendation.case_id == case_id)
                .order_by(Recommendation.created_at, Recommendation.id)
            )
        )
        .scalars()
        .all()
    )


async def recommendations_by(
    session: AsyncSession,
    author_id: uuid.UUID,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Recommendation]:
    query = select(Recommendation).where(Recommendation.author_id == author_id)
    if after is not None:
        query = query.where(tuple_(Recommendation.created_at, Recommendation.id) < tuple_(*after))
    query = query.order_by(
        Recommendation.created_at.desc(),
        Recommendation.id.desc(),
    ).limit(limit + 1)
    return (await session.execute(query)).scalars().all()


async def stats_rows(
    session: AsyncSession, event_id: uuid.UUID | None
) -> list[tuple[uuid.UUID | None, uuid.UUID | None, str, int, int, int]]:
    """Per discussed case: (table, facilitator, status, recommendations, rated, sum of
    ratings)."""
    advice = (
        select(
            Recommendation.case_id,
            func.count().label("given"),
            func.count(Recommendation.usefulness).label("rated"),
            func.coalesce(func.sum(Recommendation.usefulness), 0).label("total"),
        )
        .group_by(Recommendation.case_id)
        .subquery()
    )
    query = (
        select(
            Case.table_id,
            EventTable.facilitator_id,
            Case.status,
            func.coalesce(advice.c.given, 0),
            func.coalesce(advice.c.rated, 0),
            func.coalesce(advice.c.total, 0),
        )
        .outerjoin(EventTable, EventTable.id == Case.table_id)
        .outerjoin(advice, advice.c.case_id == Case.id)
        .where(
            Case.status.in_(
                [
                    CaseStatus.discussed,
                    CaseStatus.outcome_reported,
                ]
            )
        )
    )
    if event_id is not None:
        query = query.where(Case.event_id == event_id)
    rows = await session.execute(query)
    return [(t, f, s, int(g), int(r), int(total)) for t, f, s, g, r, total in rows.all()]


async def to_schedule(session: AsyncSession, event_id: uuid.UUID) -> Sequence[Case]:
    """The event's cases that a published seating places at tables."""
    query = select(Case).where(Case.event_id == event_id, Case.status.in_(CASES_AT_TABLES))
    return (await session.execute(query)).scalars().all()


async def discussed_without_outcome(
    session: AsyncSession, before: datetime, limit: int
) -> Sequence[Case]:
    """Discussed cases of events that ended before ``before`` whose author was not asked yet."""
    rows = await session.execute(
        select(Case)
        .join(Event, Event.id == Case.event_id)
        .where(
            Case.status == CaseStatus.discussed,
            Case.outcome_requested_at.is_(None),
            Event.ends_at < before,
        )
        .order_by(Case.id)
        .limit(limit)
        .with_for_update(of=Case, skip_locked=True)
    )
    return rows.scalars().all()
