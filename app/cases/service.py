"""Cases brought to the board, and the recommendations they receive."""

import csv
import io
import uuid
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.cases import lifecycle, repository
from app.cases.events import (
    CASE_STATUS_CHANGED,
    OUTCOME_REQUESTED,
    RECOMMENDATION_CREATED,
    CaseChanged,
    RecommendationAdded,
)
from app.cases.schemas import (
    CaseCreate,
    CaseOutcome,
    CaseRead,
    CaseStats,
    CaseUpdate,
    GroupStats,
    RecommendationCreate,
    RecommendationRead,
)
from app.core.config import Settings
from app.core.errors import Conflict, Forbidden, NotFound
from app.core.outbox import emit
from app.core.pagination import Page, decode_time_cursor, encode_time_cursor
from app.csvsafe import inert
from app.events import service as event_service
from app.models.case import Case, CaseStatus, CaseVisibility, Recommendation
from app.models.event import Event, EventStatus
from app.models.member import Role
from app.models.table import EventTable
from app.tables import service as tables


class CaseTransitionNotAllowed(Conflict):
    slug, title = "case-transition-not-allowed", "The case cannot move to that status"


def view(case: Case) -> CaseRead:
    return CaseRead.model_validate(case, from_attributes=True)


def recommendation_view(row: Recommendation) -> RecommendationRead:
    return RecommendationRead.model_validate(row, from_attributes=True)


def may_read(
    principal: Principal,
    case: Case,
    my_tables: set[uuid.UUID],
    facilitated: set[uuid.UUID] | None = None,
) -> bool:
    """Who sees a case, per its visibility; ``repository.visible_to`` is the same in SQL. A
    facilitator also sees the submitted cases of the events they facilitate, to triage them;
    once decided, a case is seen per its visibility again (a table-only case at its table)."""
    if principal.is_admin or case.author_id == principal.id:
        return True
    if case.status == CaseStatus.draft:
        return False
    if facilitated and case.event_id in facilitated and case.status == CaseStatus.submitted:
        return True
    if case.visibility == CaseVisibility.members:
        return principal.sees_members
    if case.visibility == CaseVisibility.facilitators:
        return principal.has_role(Role.facilitator)
    return case.table_id is not None and case.table_id in my_tables


async def _readable(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID, *, for_update: bool = False
) -> Case:
    case = await repository.get(session, case_id, for_update=for_update)
    # A case one may not read does not exist for them: 404, not 403, leaks nothing.
    if case is None or not may_read(
        principal,
        case,
        await repository.my_tables(session, principal.id),
        await repository.facilitated_events(session, principal),
    ):
        raise NotFound("No such case.")
    return case


async def _visible(session: AsyncSession, principal: Principal) -> ColumnElement[bool]:
    return repository.visible_to(
        principal,
        await repository.my_tables(session, principal.id),
        await repository.facilitated_events(session, principal),
    )


def change_status(session: AsyncSession, case: Case, target: CaseStatus) -> None:
    """Move a case in its lifecycle (409 when not allowed) and announce it."""
    if not lifecycle.may_move(case.status, target):
        raise CaseTransitionNotAllowed(f"A case that is {case.status} cannot become {target}.")
    case.status = target
    case.version += 1
    case.updated_at = datetime.now(UTC)
    emit(
        session,
        CASE_STATUS_CHANGED,
        CaseChanged(id=case.id, version=case.version, event_id=str(case.event_id), status=target),
    )


async def create(session: AsyncSession, *, principal: Principal, body: CaseCreate) -> CaseRead:
    event = await session.get(Event, body.event_id)
    if event is None or event.status == EventStatus.draft and not principal.is_admin:
        raise NotFound("No such event.")
    if event.status in (EventStatus.cancelled, EventStatus.completed):
        raise Conflict(f"Cases are not brought to an event that is {event.status}.")
    case = Case(
        event_id=event.id,
        author_id=principal.id,
        title=body.title,
        context=body.context,
        question=body.question,
        good_outcome=body.good_outcome,
        visibility=body.visibility,
    )
    session.add(case)
    await session.flush()
    if body.submit:
        change_status(session, case, CaseStatus.submitted)
        case.submitted_at = datetime.now(UTC)
    await session.flush()
    return view(case)


async def update(
    session: AsyncSession, *, principal: Principal, case_id: uuid.UUID, body: CaseUpdate
) -> CaseRead:
    case = await _readable(session, principal, case_id, for_update=True)
    if case.author_id != principal.id:
        raise Forbidden("Only the author edits a case.")
    if case.status not in lifecycle.EDITABLE:
        raise CaseTransitionNotAllowed(f"A case that is {case.status} is no longer edited.")
    for name, value in body.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(case, name, value)
    case.version += 1
    case.updated_at = datetime.now(UTC)
    await session.flush()
    return view(case)


async def submit(session: AsyncSession, *, principal: Principal, case_id: uuid.UUID) -> CaseRead:
    case = await _readable(session, principal, case_id, for_update=True)
    if case.author_id != principal.id:
        raise Forbidden("Only the author submits a case.")
    change_status(session, case, CaseStatus.submitted)
    case.submitted_at = datetime.now(UTC)
    await session.flush()
    return view(case)


async def withdraw(session: AsyncSession, *, principal: Principal, case_id: uuid.UUID) -> CaseRead:
    case = await _readable(session, principal, case_id, for_update=True)
    if case.author_id != principal.id:
        raise Forbidden("Only the author withdraws a case.")
    change_status(session, case, CaseStatus.withdrawn)
    case.table_id = None
    await session.flush()
    return view(case)


async def _curated(session: AsyncSession, principal: Principal, case_id: uuid.UUID) -> Case:
    """The case to accept or decline: admins decide on any; a facilitator on the cases of the
    events they facilitate (attend or lead a table at)."""
    if not (principal.is_admin or principal.has_role(Role.facilitator)):
        raise Forbidden("Admins and facilitators decide on cases.")
    case = await _readable(session, principal, case_id, for_update=True)
    if not principal.is_admin and case.event_id not in await repository.facilitated_events(
        session, principal
    ):
        raise Forbidden("Facilitators decide on the cases of the events they facilitate.")
    return case


async def accept(session: AsyncSession, *, principal: Principal, case_id: uuid.UUID) -> CaseRead:
    """Accept a case; when the event is already seated it is scheduled at once."""
    case = await _curated(session, principal, case_id)
    change_status(session, case, CaseStatus.accepted)
    case.decided_by = principal.id
    table = await tables.published_table_of(session, case.event_id, case.author_id)
    if table is not None:
        case.table_id = table.id
        case.round = table.round
        change_status(session, case, CaseStatus.scheduled)
    await session.flush()
    return view(case)


async def decline(
    session: AsyncSession, *, principal: Principal, case_id: uuid.UUID, reason: str
) -> CaseRead:
    case = await _curated(session, principal, case_id)
    change_status(session, case, CaseStatus.declined)
    case.decline_reason = reason
    case.decided_by = principal.id
    case.table_id = None
    await session.flush()
    return view(case)


async def _may_lead(session: AsyncSession, principal: Principal, case: Case) -> bool:
    if principal.is_admin:
        return True
    if case.table_id is None:
        return False
    table = await session.get(EventTable, case.table_id)
    return table is not None and table.facilitator_id == principal.id


async def mark_discussed(
    session: AsyncSession, *, principal: Principal, case_id: uuid.UUID
) -> CaseRead:
    case = await _readable(session, principal, case_id, for_update=True)
    if not await _may_lead(session, principal, case):
        raise Forbidden("The table's facilitator or an admin marks a case discussed.")
    change_status(session, case, CaseStatus.discussed)
    await session.flush()
    return view(case)


async def report_outcome(
    session: AsyncSession, *, principal: Principal, case_id: uuid.UUID, body: CaseOutcome
) -> CaseRead:
    case = await _readable(session, principal, case_id, for_update=True)
    if case.author_id != principal.id:
        raise Forbidden("Only the author reports the outcome.")
    change_status(session, case, CaseStatus.outcome_reported)
    case.outcome_action, case.outcome_result = body.action, body.result
    case.outcome_reported_at = datetime.now(UTC)
    await session.flush()
    return view(case)


async def get(session: AsyncSession, *, principal: Principal, case_id: uuid.UUID) -> CaseRead:
    return view(await _readable(session, principal, case_id))


async def list_cases(
    session: AsyncSession,
    *,
    principal: Principal,
    event_id: uuid.UUID | None,
    status: CaseStatus | None,
    author_id: uuid.UUID | None,
    search: str | None,
    cursor: str | None,
    limit: int,
) -> Page[CaseRead]:
    sort = "-created_at"
    visible = await _visible(session, principal)
    rows = await repository.list_cases(
        session,
        visible,
        event_id=event_id,
        status=status,
        author_id=author_id,
        search=search,
        after=decode_time_cursor(cursor, sort),
        limit=limit,
    )
    page = rows[:limit]
    next_cursor = (
        encode_time_cursor(sort, page[-1].created_at, page[-1].id) if len(rows) > limit else None
    )
    return Page[CaseRead](items=[view(c) for c in page], next_cursor=next_cursor)


EXPORT_COLUMNS = [
    "id",
    "event_id",
    "author_id",
    "title",
    "question",
    "visibility",
    "status",
    "table_id",
    "outcome_reported_at",
    "created_at",
]


async def export_csv(
    session: AsyncSession, *, principal: Principal, event_id: uuid.UUID | None
) -> str:
    """The cases the reader may see, as CSV: the same visibility as every list."""
    visible = await _visible(session, principal)
    rows = await repository.list_cases(
        session,
        visible,
        event_id=event_id,
        status=None,
        author_id=None,
        search=None,
        after=None,
        limit=None,
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for case in rows:
        writer.writerow(
            [
                "" if getattr(case, c) is None else inert(str(getattr(case, c)))
                for c in EXPORT_COLUMNS
            ]
        )
    return out.getvalue()


async def add_recommendation(
    session: AsyncSession, *, principal: Principal, case_id: uuid.UUID, body: RecommendationCreate
) -> RecommendationRead:
    """Advice from the case's table: its members and facilitator, during and after."""
    case = await _readable(session, principal, case_id)
    if case.status not in lifecycle.ADVISABLE or case.table_id is None:
        raise CaseTransitionNotAllowed("Advice is given once the case is at a table.")
    if case.table_id not in await repository.my_tables(session, principal.id):
        raise Forbidden("Only the case's table gives it recommendations.")
    if case.author_id == principal.id:
        raise Forbidden("The author does not advise their own case.")
    row = Recommendation(
        case_id=case.id, author_id=principal.id, advice=body.advice, experience=body.experience
    )
    session.add(row)
    await session.flush()
    emit(
        session,
        RECOMMENDATION_CREATED,
        RecommendationAdded(id=row.id, version=1, case_id=str(case.id)),
    )
    return recommendation_view(row)


async def recommendations(
    session: AsyncSession, *, principal: Principal, case_id: uuid.UUID
) -> list[RecommendationRead]:
    case = await _readable(session, principal, case_id)
    return [recommendation_view(r) for r in await repository.recommendations(session, case.id)]


async def rate(
    session: AsyncSession,
    *,
    principal: Principal,
    case_id: uuid.UUID,
    recommendation_id: uuid.UUID,
    usefulness: int,
) -> RecommendationRead:
    case = await _readable(session, principal, case_id)
    if case.author_id != principal.id:
        raise Forbidden("Only the case's author rates its recommendations.")
    row = await session.get(Recommendation, recommendation_id)
    if row is None or row.case_id != case.id:
        raise NotFound("No such recommendation.")
    row.usefulness = usefulness
    row.rated_at = row.updated_at = datetime.now(UTC)
    await session.flush()
    return recommendation_view(row)


async def my_recommendations(
    session: AsyncSession, *, principal: Principal, cursor: str | None, limit: int
) -> Page[RecommendationRead]:
    """The advice I gave, newest first."""
    sort = "-created_at"
    rows = await repository.recommendations_by(
        session, principal.id, after=decode_time_cursor(cursor, sort), limit=limit
    )
    page = rows[:limit]
    next_cursor = (
        encode_time_cursor(sort, page[-1].created_at, page[-1].id) if len(rows) > limit else None
    )
    return Page[RecommendationRead](
        items=[recommendation_view(r) for r in page], next_cursor=next_cursor
    )


def _group(key: str, rows: list[tuple[str, int, int, int]]) -> GroupStats:
    rated = sum(r[2] for r in rows)
    return GroupStats(
        key=key,
        cases=len(rows),
        with_outcome=sum(1 for r in rows if r[0] == CaseStatus.outcome_reported),
        recommendations=sum(r[1] for r in rows),
        mean_usefulness=round(sum(r[3] for r in rows) / rated, 3) if rated else None,
    )


async def stats(session: AsyncSession, *, event_id: uuid.UUID | None) -> CaseStats:
    """For admins: how many discussed cases reported an outcome, how useful advice was, by
    table and by facilitator."""
    rows = await repository.stats_rows(session, event_id)
    by_table: dict[str, list[tuple[str, int, int, int]]] = defaultdict(list)
    by_facilitator: dict[str, list[tuple[str, int, int, int]]] = defaultdict(list)
    for table_id, facilitator_id, status, given, rated, total in rows:
        item = (status, given, rated, total)
        if table_id is not None:
            by_table[str(table_id)].append(item)
        if facilitator_id is not None:
            by_facilitator[str(facilitator_id)].append(item)
    overall = _group("all", [(s, g, r, t) for _, _, s, g, r, t in rows])
    return CaseStats(
        cases=overall.cases,
        with_outcome=overall.with_outcome,
        outcome_share=round(overall.with_outcome / overall.cases, 3) if overall.cases else None,
        mean_usefulness=overall.mean_usefulness,
        by_table=[_group(k, v) for k, v in sorted(by_table.items())],
        by_facilitator=[_group(k, v) for k, v in sorted(by_facilitator.items())],
    )


@tables.published.follow
async def schedule_at_tables(
    session: AsyncSession, event_id: uuid.UUID, case_seats: Mapping[uuid.UUID, tables.CaseSeat]
) -> None:
    """A published seating schedules each accepted case at its author's table in the round
    the plan chose for it; a case whose author has no seat any more goes back to accepted."""
    for case in await repository.to_schedule(session, event_id):
        seat = case_seats.get(case.author_id)
        case.table_id = seat.table_id if seat else None
        case.round = seat.round if seat else None
        target = CaseStatus.scheduled if case.table_id else CaseStatus.accepted
        if case.status != target:
            change_status(session, case, target)


OUTCOME_AFTER = timedelta(days=14)
NUDGE_BATCH = 200


async def request_outcomes(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """The outcome loop: two weeks after the event, each author of a discussed case is asked
    once what they did and what happened (rows locked, SKIP LOCKED: replicas never double)."""
    cases = await repository.discussed_without_outcome(session, now - OUTCOME_AFTER, NUDGE_BATCH)
    for case in cases:
        case.outcome_requested_at = now
        emit(
            session,
            OUTCOME_REQUESTED,
            CaseChanged(
                id=case.id, version=case.version, event_id=str(case.event_id), status=case.status
            ),
        )
    return len(cases)


async def outcome_request(session: AsyncSession, case_id: uuid.UUID) -> tuple[Case, Event] | None:
    """The case and its event while the outcome is still missing (for the e-mail)."""
    case = await repository.get(session, case_id)
    if case is None or case.status != CaseStatus.discussed:
        return None
    event = await event_service.find(session, case.event_id)
    return None if event is None else (case, event)
