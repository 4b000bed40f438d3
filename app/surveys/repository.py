"""Every query of surveys: the surveys, their audience, who answered, the answers."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, and_, exists, func, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.member import Member, MemberRole, MemberStatus, Role
from app.models.registration import Registration, RegistrationStatus
from app.models.survey import Survey, SurveyAudience, SurveyRespondent, SurveyResponse, SurveyStatus
from app.models.table import EventTable, TableSeat

# Which registrations make up each event audience. A confirmed registrant who did not come
# was marked no-show when the event completed; they were confirmed all the same.
AUDIENCE_STATUSES: dict[str, tuple[str, ...]] = {
    SurveyAudience.checked_in: (RegistrationStatus.checked_in,),
    SurveyAudience.confirmed: (
        RegistrationStatus.confirmed,
        RegistrationStatus.checked_in,
        RegistrationStatus.no_show,
    ),
}


class AlreadyAnswered(Exception):
    """The member's answer is already recorded (perhaps by a concurrent request)."""


async def get(
    session: AsyncSession, survey_id: uuid.UUID, *, lock: str | None = None
) -> Survey | None:
    """``lock``: "update" to change the survey, "share" to answer it (answers may arrive
    together, while a change or closing waits for them and they for it)."""
    query = select(Survey).where(Survey.id == survey_id)
    if lock == "update":
        query = query.with_for_update()
    elif lock == "share":
        query = query.with_for_update(read=True)
    return (await session.execute(query)).scalar_one_or_none()


async def add(session: AsyncSession, survey: Survey) -> None:
    session.add(survey)
    await session.flush()


async def list_surveys(
    session: AsyncSession,
    *,
    statuses: Sequence[str],
    event_id: uuid.UUID | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Survey]:
    """Newest first, keyset-paged on (created_at, id)."""
    query = select(Survey).where(Survey.status.in_(statuses))
    if event_id is not None:
        query = query.where(Survey.event_id == event_id)
    if after is not None:
        query = query.where(tuple_(Survey.created_at, Survey.id) < tuple_(*after))
    query = query.order_by(Survey.created_at.desc(), Survey.id.desc())
    return list((await session.execute(query.limit(limit + 1))).scalars())


def _audience(survey: Survey) -> Select[tuple[uuid.UUID]]:
    """The member ids of the survey's audience, as a query."""
    if survey.audience == SurveyAudience.members:
        return (
            select(Member.id)
            .join(
                MemberRole, and_(MemberRole.member_id == Member.id, MemberRole.role == Role.member)
            )
            .where(Member.status == MemberStatus.active, Member.erased_at.is_(None))
        )
    return (
        select(Registration.member_id)
        .join(Member, Member.id == Registration.member_id)
        .where(
            Registration.event_id == survey.event_id,
            Registration.status.in_(AUDIENCE_STATUSES[survey.audience]),
            Member.erased_at.is_(None),
        )
    )


async def in_audience(session: AsyncSession, survey: Survey, member_id: uuid.UUID) -> bool:
    query = (
        _audience(survey).where(Member.id == member_id)
        if (survey.audience == SurveyAudience.members)
        else _audience(survey).where(Registration.member_id == member_id)
    )
    return await session.scalar(select(exists(query))) or False


async def audience_size(session: AsyncSession, survey: Survey) -> int:
    return int(
        await session.scalar(select(func.count()).select_from(_audience(survey).subquery())) or 0
    )


async def not_answered(session: AsyncSession, survey: Survey) -> list[uuid.UUID]:
    """The audience minus those recorded as having answered: who is invited or reminded."""
    audience = _audience(survey).subquery()
    member = audience.c[0]
    rows = await session.execute(
        select(member)
        .where(
            ~exists(
                select(SurveyRespondent.member_id).where(
                    SurveyRespondent.survey_id == survey.id, SurveyRespondent.member_id == member
                )
            )
        )
        .order_by(member)
    )
    return [m for m in rows.scalars() if m is not None]


async def respondent_count(session: AsyncSession, survey_id: uuid.UUID) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(SurveyRespondent)
            .where(SurveyRespondent.survey_id == survey_id)
        )
        or 0
    )


async def respondent_counts(
    session: AsyncSession, survey_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Answers per survey for a page of surveys, in one query."""
    if not survey_ids:
        return {}
    rows = await session.execute(
        select(SurveyRespondent.survey_id, func.count())
        .where(SurveyRespondent.survey_id.in_(survey_ids))
        .group_by(SurveyRespondent.survey_id)
    )
    return {survey_id: int(count) for survey_id, count in rows.all()}


async def has_answered(session: AsyncSession, survey_id: uuid.UUID, member_id: uuid.UUID) -> bool:
    return await session.get(SurveyRespondent, (survey_id, member_id)) is not None


async def record_answer(
    session: AsyncSession, respondent: SurveyRespondent, response: SurveyResponse
) -> None:
    """Record who answered and what, together, in a savepoint: a second answer by the same
    person (even a concurrent one) becomes ``AlreadyAnswered`` and leaves the caller's
    transaction usable."""
    try:
        async with session.begin_nested():
            session.add(respondent)
            await session.flush()
            session.add(response)
            await session.flush()
    except IntegrityError as error:
        raise AlreadyAnswered from error


async def named_response(
    session: AsyncSession, survey_id: uuid.UUID, member_id: uuid.UUID, *, for_update: bool = False
) -> SurveyResponse | None:
    query = select(SurveyResponse).where(
        SurveyResponse.survey_id == survey_id, SurveyResponse.member_id == member_id
    )
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def responses(
    session: AsyncSession, survey_id: uuid.UUID
) -> list[tuple[uuid.UUID, uuid.UUID | None, int | None, dict, object]]:
    """(id, member id, table, answers, day) of every response; ordered by the random id, so
    the order carries nothing."""
    rows = await session.execute(
        select(
            SurveyResponse.id,
            SurveyResponse.member_id,
            SurveyResponse.table_number,
            SurveyResponse.answers,
            SurveyResponse.submitted_on,
        )
        .where(SurveyResponse.survey_id == survey_id)
        .order_by(SurveyResponse.id)
    )
    return [tuple(row) for row in rows.all()]


async def table_of(session: AsyncSession, event_id: uuid.UUID, member_id: uuid.UUID) -> int | None:
    """The number of the published table the member sat at (in the first round), if any."""
    return await session.scalar(
        select(EventTable.number)
        .join(TableSeat, TableSeat.table_id == EventTable.id)
        .where(TableSeat.event_id == event_id, TableSeat.member_id == member_id)
        .order_by(EventTable.round)
        .limit(1)
    )


async def facilitators(session: AsyncSession, event_id: uuid.UUID) -> dict[int, uuid.UUID]:
    """Table number -> its facilitator, for the event's published tables."""
    rows = await session.execute(
        select(EventTable.number, EventTable.facilitator_id).where(
            EventTable.event_id == event_id,
            EventTable.facilitator_id.is_not(None),
            EventTable.round == 1,  # survey answers name the first round's table
        )
    )
    return {number: facilitator for number, facilitator in rows.all()}


async def tables_led_by(
    session: AsyncSession, event_id: uuid.UUID, member_id: uuid.UUID
) -> list[int]:
    rows = await session.execute(
        select(EventTable.number)
        .where(EventTable.event_id == event_id, EventTable.facilitator_id == member_id)
        .order_by(EventTable.number)
    )
    return list(rows.scalars())


async def member_names(
    session: AsyncSession, member_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    if not member_ids:
        return {}
    rows = await session.execute(
        select(Member.id, Member.full_name).where(Member.id.in_(member_ids))
    )
    return {member_id: name for member_id, name in rows.all()}


async def due(
    session: AsyncSession, now: datetime
) -> tuple[list[Survey], list[Survey], list[Survey]]:
    """Surveys the scheduler must move: (to open, to close, to remind), locked, skipping rows
    another replica is already handling."""

    async def locked(condition: object) -> list[Survey]:
        rows = await session.execute(
            select(Survey)
            .where(condition)
            .order_by(Survey.id)
            .limit(100)
            .with_for_update(skip_locked=True)
        )
        return list(rows.scalars())

    opening = await locked(and_(Survey.status == SurveyStatus.scheduled, Survey.opens_at <= now))
    closing = await locked(and_(Survey.status == SurveyStatus.open, Survey.closes_at <= now))
    reminding = await locked(
        and_(
            Survey.status == SurveyStatus.open,
            Survey.remind_at <= now,
            Survey.reminded_at.is_(None),
            or_(Survey.closes_at.is_(None), Survey.closes_at > now),
        )
    )
    return opening, closing, reminding


async def unsealed(session: AsyncSession, limit: int) -> list[uuid.UUID]:
    rows = await session.execute(
        select(SurveyResponse.id).where(SurveyResponse.sealed.is_(False)).limit(limit)
    )
    return list(rows.scalars())


async def seal(session: AsyncSession, response_ids: Sequence[uuid.UUID]) -> None:
    """Rewrite the rows one by one in the given order: each gets this transaction's id and
    a new place on disk in that order."""
    for response_id in response_ids:
        await session.execute(
            update(SurveyResponse).where(SurveyResponse.id == response_id).values(sealed=True)
        )
