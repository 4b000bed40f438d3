"""Seating an event: generate a draft with the solver, adjust it under the hard rules, publish
it as the event's tables; and each reader's view of the tables."""

import asyncio
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.companies import service as companies_service
from app.core import audit
from app.core.context import RequestContext
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.etag import check_if_match, etag_of
from app.core.followers import Followers
from app.core.outbox import emit
from app.events.service import may_read
from app.members.privacy import Viewer, visible_private_fields
from app.members.service import audit_private_read, fields_of, muting, viewer_with_every_mate
from app.models.case import CaseStatus, CaseVisibility
from app.models.event import Event, EventStatus
from app.models.member import Member
from app.models.notification import NotificationKind
from app.models.table import (
    EventMessage,
    EventTable,
    PlanStatus,
    SeatingKeepApart,
    SeatingPin,
    SeatingPlan,
    TableSeat,
)
from app.tables import repository
from app.tables.events import (
    EVENT_MESSAGE_SENT,
    SEATING_PUBLISHED,
    EventMessageSent,
    SeatingPublished,
)
from app.tables.schemas import (
    EventMessageCreate,
    EventMessagePreview,
    EventMessageRead,
    KeepApartCreate,
    MessageAudience,
    MyTableRead,
    PlanRoundRead,
    PlanTableRead,
    ReasonRead,
    SeatedAttendee,
    SeatingMetrics,
    SeatingOptions,
    SeatingPlanRead,
    SeatingRules,
    TableCase,
    TableMember,
    TableRead,
)
from app.tables.seating.model import Attendee, Instance, Meeting, Violation
from app.tables.seating.rounds import (
    evaluate_rounds,
    repeat_lower_bound,
    round_violations,
)
from app.tables.seating.solver import solve_rounds

# A plan as the service handles it: per round, per table, the member ids.
Rounds = list[list[list[str]]]

# Seating is for events that happen: not drafts, not cancelled ones.
SEATABLE = (
    EventStatus.published,
    EventStatus.registration_open,
    EventStatus.registration_closed,
    EventStatus.completed,
)


class SeatingRuleBroken(Conflict):
    slug, title = "seating-rule-broken", "A seating rule would be broken"


class SeatingInfeasible(Conflict):
    slug, title = "seating-infeasible", "No seating can keep every rule"


class SeatingNotReady(Conflict):
    slug, title = "seating-not-ready", "Seating is not possible in this state"


def _rule_broken(
    violation: Violation, error: type[Conflict] = SeatingRuleBroken, round_number: int = 0
) -> Conflict:
    who = f" ({', '.join(violation.member_ids)})" if violation.member_ids else ""
    where = f"Round {round_number}: rule" if round_number else "Rule"
    return error(f"{where} '{violation.rule}': {violation.detail}{who}.")


async def _event(session: AsyncSession, event_id: uuid.UUID, *, for_update: bool = False) -> Event:
    event = await repository.event(session, event_id, for_update=for_update)
    if event is None:
        raise NotFound("No such event.")
    return event


class _Seating:
    """What the rules are checked against: the people of a plan, their attributes, the
    event's pins and pairs kept apart, and their history together."""

    def __init__(
        self,
        event: Event,
        rows: list[repository.AttendeeRow],
        pins: dict[uuid.UUID, int],
        apart: list[tuple[uuid.UUID, uuid.UUID]],
        history: list[tuple[uuid.UUID, uuid.UUID, int, Any]],
        options: SeatingOptions,
        company_of: Callable[[str | None], str | None] = lambda name: name,
        attendance: Mapping[uuid.UUID, float] | None = None,
        case_rounds: Mapping[str, int] | None = None,
    ) -> None:
        present = {r.id for r in rows}
        self.rows = {str(r.id): r for r in rows}
        self.names = {str(r.id): r.full_name or str(r.id) for r in rows}
        self.pins = {str(m): t for m, t in pins.items() if m in present}
        self.instance = Instance(
            table_size=event.table_size,
            tables=options.tables,
            attendees=tuple(
                Attendee(
                    id=str(r.id),
                    function=r.function,
                    seniority=r.seniority,
                    company=company_of(r.company),  # an alias becomes its company
                    facilitator=r.facilitator,
                    has_case=r.has_case,
                    pinned_table=pins.get(r.id),
                    # A plan's own choice of rounds for its cases stays when it is adjusted.
                    case_round=(case_rounds or {}).get(str(r.id)),
                    attendance=(attendance or {}).get(r.id, 0.0),
                )
                for r in rows
            ),
            history=tuple(Meeting(str(a), str(b), times, last) for a, b, times, last in history),
            keep_apart=tuple((str(a), str(b)) for a, b in apart if a in present and b in present),
            seed=options.seed,
            time_limit_s=options.time_limit_s,
            weights=options.weights.to_weights(),
            reference_date=event.starts_at.date(),
            rounds=options.rounds,
            facilitators_stay=options.facilitators_stay,
        )


async def _seating(
    session: AsyncSession,
    event: Event,
    options: SeatingOptions,
    member_ids: list[uuid.UUID] | None = None,
    plan: SeatingPlan | None = None,
) -> _Seating:
    rows = await repository.attendees(session, event.id, member_ids)
    ids = [r.id for r in rows]
    history = await repository.pair_history(session, event, ids)
    return _Seating(
        event,
        rows,
        await repository.pins(session, event.id),
        await repository.keep_apart(session, event.id),
        history,
        options,
        await companies_service.resolver(session),
        await repository.attendance(session, event, ids),
        _case_rounds(plan) if plan is not None else None,
    )


def _numbered(tables: Mapping[str, Any]) -> list[list[str]]:
    return [list(tables[key]) for key in sorted(tables, key=int)]


def _plan_rounds(plan: SeatingPlan) -> Rounds:
    """Every round's tables; a plan made before rounds existed has one."""
    if plan.rounds:
        return [_numbered(tables) for tables in plan.rounds["tables"]]
    return [_numbered(plan.tables)]


def _case_rounds(plan: SeatingPlan) -> dict[str, int]:
    return dict((plan.rounds or {}).get("case_rounds", {}))


def _members_of(rounds: Rounds) -> list[uuid.UUID]:
    return [uuid.UUID(m) for m in sorted({m for t in rounds[0] for m in t})]


def _evaluation(table_plans: Any) -> dict[str, Any]:
    return {
        str(t.number): {
            "score": t.score,
            "reasons": [
                {"kind": r.kind, "member_ids": list(r.member_ids), "text": r.text}
                for r in t.reasons
            ],
        }
        for t in table_plans
    }


def _store(
    plan: SeatingPlan,
    seating: _Seating,
    rounds: Rounds,
    run: dict[str, Any] | None = None,
    case_rounds: Mapping[str, int] | None = None,
) -> None:
    """Score every round and keep it, with its reasons and metrics, on the plan; the first
    round also in ``tables`` and ``evaluation``, as single-round readers expect."""
    previous = plan.metrics or {}
    cases = dict(case_rounds) if case_rounds is not None else _case_rounds(plan)
    table_rounds, round_metrics, metrics = evaluate_rounds(
        seating.instance,
        rounds,
        cases=cases or None,
        names=seating.names,
        moves=(run or previous).get("moves", 0),
        time_s=(run or previous).get("time_s", 0.0),
        stopped_by=(run or previous).get("stopped_by", "moves"),
    )
    bound = repeat_lower_bound(seating.instance)
    plan.tables = {str(t.number): list(t.attendees) for t in table_rounds[0]}
    plan.evaluation = _evaluation(table_rounds[0])
    plan.metrics = {
        **asdict(metrics),
        "lower_bound": bound,
        "gap": metrics.repeated_pairs - bound,
    }
    plan.rounds = {
        "tables": [{str(t.number): list(t.attendees) for t in tables} for tables in table_rounds],
        "evaluation": [_evaluation(tables) for tables in table_rounds],
        "metrics": [asdict(m) for m in round_metrics],
        "case_rounds": cases,
    }


def _table_views(
    seating: _Seating, tables: list[list[str]], evaluations: Mapping[str, Any]
) -> list[PlanTableRead]:
    views = []
    for number, members in enumerate(tables, start=1):
        evaluation = evaluations.get(str(number), {"score": 0.0, "reasons": []})
        attendees = []
        for member in members:
            row = seating.rows.get(member)
            attendees.append(
                SeatedAttendee(
                    member_id=uuid.UUID(member),
                    full_name=row.full_name if row else "",
                    function=row.function if row else None,
                    seniority=row.seniority if row else None,
                    facilitator=bool(row and row.facilitator),
                    has_case=bool(row and row.has_case),
                    pinned=member in seating.pins,
                )
            )
        views.append(
            PlanTableRead(
                number=number,
                score=evaluation["score"],
                attendees=attendees,
                reasons=[ReasonRead.model_validate(r) for r in evaluation["reasons"]],
            )
        )
    return views


def view(plan: SeatingPlan, seating: _Seating) -> SeatingPlanRead:
    metrics = SeatingMetrics.model_validate(plan.metrics)
    rounds = _plan_rounds(plan)
    stored = plan.rounds or {}
    evaluations = stored.get("evaluation", [plan.evaluation])
    round_metrics = stored.get("metrics", [plan.metrics])
    round_views = [
        PlanRoundRead(
            round=number,
            metrics=SeatingMetrics.model_validate(round_metrics[number - 1]),
            tables=_table_views(seating, tables, evaluations[number - 1]),
        )
        for number, tables in enumerate(rounds, start=1)
    ]
    return SeatingPlanRead(
        id=plan.id,
        event_id=plan.event_id,
        status=plan.status,
        table_size=plan.table_size,
        options=SeatingOptions.model_validate(plan.options),
        metrics=metrics,
        tables=round_views[0].tables,
        rounds=round_views,
        case_rounds=_case_rounds(plan),
        version=plan.version,
        created_at=plan.created_at,
        published_at=plan.published_at,
    )


async def generate(
    session: AsyncSession,
    *,
    admin: Principal,
    context: RequestContext,
    event_id: uuid.UUID,
    options: SeatingOptions,
) -> SeatingPlanRead:
    """A new draft from the event's attendees; an earlier draft is replaced, a published
    plan stays in force until this one is published."""
    event = await _event(session, event_id, for_update=True)
    if event.status not in SEATABLE:
        raise SeatingNotReady(f"An event that is {event.status} is not seated.")
    seating = await _seating(session, event, options)
    if not seating.rows:
        raise SeatingNotReady("The event has no confirmed attendees to seat.")
    # The solver is CPU-bound for up to its time budget: off the event loop.
    plan = await asyncio.to_thread(solve_rounds, seating.instance)
    if plan.status == "infeasible" and plan.infeasible is not None:
        raise _rule_broken(plan.infeasible, SeatingInfeasible)
    if plan.status != "ok" or plan.metrics is None:
        raise SeatingInfeasible(
            "No seating was found within the time limit; allow more time or relax a rule."
        )
    await repository.drop_drafts(session, event.id)
    draft = SeatingPlan(
        event_id=event.id,
        table_size=event.table_size,
        options=options.model_dump(mode="json"),
        created_by=admin.id,
    )
    _store(
        draft,
        seating,
        [[list(t.attendees) for t in tables] for tables in plan.rounds],
        run={
            "moves": plan.metrics.moves,
            "time_s": plan.metrics.time_s,
            "stopped_by": plan.metrics.stopped_by,
        },
        case_rounds=dict(plan.case_rounds),
    )
    session.add(draft)
    await session.flush()
    audit.record(
        session,
        context=context,
        action="seating.generated",
        target_type="event",
        target_id=event.id,
        actor_id=admin.id,
        details={
            "plan_id": str(draft.id),
            "attendees": len(seating.rows),
            "rounds": options.rounds,
        },
    )
    return view(draft, seating)


async def current(session: AsyncSession, event_id: uuid.UUID) -> SeatingPlanRead:
    event = await _event(session, event_id)
    plan = await repository.current_plan(session, event.id)
    if plan is None:
        raise NotFound("This event has no seating plan yet.")
    seating = await _seating(
        session,
        event,
        SeatingOptions.model_validate(plan.options),
        _members_of(_plan_rounds(plan)),
        plan,
    )
    return view(plan, seating)


async def _working_draft(session: AsyncSession, event: Event, admin: Principal) -> SeatingPlan:
    """The draft changes go to; changing a published plan starts a draft from it."""
    plan = await repository.current_plan(session, event.id, for_update=True)
    if plan is None:
        raise SeatingNotReady("Generate a seating plan first.")
    if plan.status == PlanStatus.draft:
        return plan
    draft = SeatingPlan(
        event_id=event.id,
        table_size=plan.table_size,
        tables=dict(plan.tables),
        options=dict(plan.options),
        metrics=dict(plan.metrics),
        evaluation=dict(plan.evaluation),
        rounds=dict(plan.rounds) if plan.rounds else None,
        created_by=admin.id,
    )
    session.add(draft)
    await session.flush()
    return draft


def _broken(seating: _Seating, plan: SeatingPlan, rounds: Rounds) -> list[tuple[int, Violation]]:
    return round_violations(seating.instance, rounds, _case_rounds(plan) or None)


async def _change(
    session: AsyncSession, event: Event, plan: SeatingPlan, rounds: Rounds
) -> SeatingPlanRead:
    """Keep ``rounds`` on the plan if no round breaks a hard rule; else a 409 naming it."""
    seating = await _seating(
        session, event, SeatingOptions.model_validate(plan.options), _members_of(rounds), plan
    )
    broken = _broken(seating, plan, rounds)
    if broken:
        number, violation = broken[0]
        raise _rule_broken(violation, round_number=number if len(rounds) > 1 else 0)
    _store(plan, seating, rounds)
    plan.version += 1
    plan.updated_at = datetime.now(UTC)
    await session.flush()
    return view(plan, seating)


def _round_of(rounds: Rounds, number: int) -> list[list[str]]:
    if not 1 <= number <= len(rounds):
        raise Conflict(f"There is no round {number}; the plan has {len(rounds)}.")
    return rounds[number - 1]


def _seat_of(tables: list[list[str]], member_id: uuid.UUID) -> int:
    for index, members in enumerate(tables):
        if str(member_id) in members:
            return index
    raise NotFound("That member is not in the seating plan.")


async def move(
    session: AsyncSession,
    *,
    admin: Principal,
    event_id: uuid.UUID,
    member_id: uuid.UUID,
    table: int,
    if_match: str | None,
    round_number: int = 1,
) -> SeatingPlanRead:
    """Move a member to ``table`` in one round; every round is checked again."""
    event = await _event(session, event_id, for_update=True)
    if if_match is not None:
        check_if_match(if_match, etag_of(await current(session, event_id)))
    plan = await _working_draft(session, event, admin)
    rounds = _plan_rounds(plan)
    tables = _round_of(rounds, round_number)
    if not 1 <= table <= len(tables):
        raise Conflict(f"There is no table {table}; the plan has {len(tables)}.")
    source = _seat_of(tables, member_id)
    tables[source].remove(str(member_id))
    tables[table - 1].append(str(member_id))
    return await _change(session, event, plan, rounds)


async def swap(
    session: AsyncSession,
    *,
    admin: Principal,
    event_id: uuid.UUID,
    member_id: uuid.UUID,
    other_id: uuid.UUID,
    if_match: str | None,
    round_number: int = 1,
) -> SeatingPlanRead:
    event = await _event(session, event_id, for_update=True)
    if if_match is not None:
        check_if_match(if_match, etag_of(await current(session, event_id)))
    plan = await _working_draft(session, event, admin)
    rounds = _plan_rounds(plan)
    tables = _round_of(rounds, round_number)
    first, second = _seat_of(tables, member_id), _seat_of(tables, other_id)
    if first == second:
        raise InvalidInput("Both sit at the same table already.")
    a, b = str(member_id), str(other_id)
    tables[first] = [b if m == a else m for m in tables[first]]
    tables[second] = [a if m == b else m for m in tables[second]]
    return await _change(session, event, plan, rounds)


async def _repair(
    session: AsyncSession,
    event: Event,
    plan: SeatingPlan,
    rounds: Rounds,
    number: int,
    members: list[str],
    targets: list[int],
) -> Rounds:
    """Seat one of ``members`` at one of ``targets`` in round ``number`` (0-based) by a move
    or a swap that keeps every rule; the first such change wins, else a 409 with the rule the
    simplest one breaks."""
    seating = await _seating(
        session, event, SeatingOptions.model_validate(plan.options), _members_of(rounds), plan
    )
    tables = rounds[number]
    first_problem: Violation | None = None
    for member in members:
        source = _seat_of(tables, uuid.UUID(member))
        for target in (t for t in targets if t != source):
            moved = [list(t) for t in tables]
            moved[source].remove(member)
            moved[target].append(member)
            candidates = [moved]
            for other in tables[target]:
                swapped = [list(t) for t in tables]
                swapped[source] = [other if m == member else m for m in swapped[source]]
                swapped[target] = [member if m == other else m for m in swapped[target]]
                candidates.append(swapped)
            for candidate in candidates:
                changed = [candidate if i == number else t for i, t in enumerate(rounds)]
                # Only this round changed: the others' rules are not this change's to break.
                broken = [v for r, v in _broken(seating, plan, changed) if r in (0, number + 1)]
                if not broken:
                    return changed
                first_problem = first_problem or broken[0]
    if first_problem is None:
        raise SeatingRuleBroken("No other table to move to.")
    raise _rule_broken(first_problem)


async def _attendees(session: AsyncSession, event: Event, *member_ids: uuid.UUID) -> None:
    # A well-formed request about someone who is not (or no longer) attending: it conflicts
    # with the event's current state, as a table number beyond the current plan does (409).
    if not set(member_ids) <= await repository.attending(session, event.id):
        raise Conflict("That member is not a confirmed attendee of this event.")


async def pin(
    session: AsyncSession,
    *,
    admin: Principal,
    event_id: uuid.UUID,
    member_id: uuid.UUID,
    table: int,
) -> SeatingRules:
    """Pin a member to a table; a plan being worked on is adjusted to keep the pin."""
    event = await _event(session, event_id, for_update=True)
    await _attendees(session, event, member_id)
    existing = await session.get(SeatingPin, (event.id, member_id))
    if existing is None:
        session.add(SeatingPin(event_id=event.id, member_id=member_id, table_number=table))
    else:
        existing.table_number = table
    await session.flush()
    plan = await repository.current_plan(session, event.id)
    if plan is not None:
        rounds = _plan_rounds(plan)
        if table > len(rounds[0]):
            raise Conflict(f"There is no table {table}; the plan has {len(rounds[0])}.")
        if all(str(member_id) in tables[table - 1] for tables in rounds):
            return await rules(session, event_id)
        draft = await _working_draft(session, event, admin)
        rounds = _plan_rounds(draft)
        for number, tables in enumerate(rounds):
            if str(member_id) not in tables[table - 1]:
                rounds = await _repair(
                    session, event, draft, rounds, number, [str(member_id)], [table - 1]
                )
        await _change(session, event, draft, rounds)
    return await rules(session, event_id)


async def unpin(session: AsyncSession, *, event_id: uuid.UUID, member_id: uuid.UUID) -> None:
    event = await _event(session, event_id, for_update=True)
    existing = await session.get(SeatingPin, (event.id, member_id))
    if existing is None:
        raise NotFound("That member is not pinned.")
    await session.delete(existing)
    await session.flush()


async def add_keep_apart(
    session: AsyncSession, *, admin: Principal, event_id: uuid.UUID, body: KeepApartCreate
) -> SeatingRules:
    """Keep two members apart; a plan seating them together is adjusted."""
    event = await _event(session, event_id, for_update=True)
    a, b = sorted(body.member_ids)
    if a == b:
        raise InvalidInput("Name two different members.")
    await _attendees(session, event, a, b)
    if await session.get(SeatingKeepApart, (event.id, a, b)) is None:
        session.add(SeatingKeepApart(event_id=event.id, member_a=a, member_b=b))
        await session.flush()
    plan = await repository.current_plan(session, event.id)
    if plan is not None:

        def together(tables: list[list[str]]) -> int | None:
            return next((i for i, t in enumerate(tables) if str(a) in t and str(b) in t), None)

        if any(together(tables) is not None for tables in _plan_rounds(plan)):
            draft = await _working_draft(session, event, admin)
            rounds = _plan_rounds(draft)
            for number in range(len(rounds)):
                shared = together(rounds[number])
                if shared is not None:
                    others = [i for i in range(len(rounds[number])) if i != shared]
                    rounds = await _repair(
                        session, event, draft, rounds, number, [str(b), str(a)], others
                    )
            await _change(session, event, draft, rounds)
    return await rules(session, event_id)


async def remove_keep_apart(
    session: AsyncSession, *, event_id: uuid.UUID, member_a: uuid.UUID, member_b: uuid.UUID
) -> None:
    event = await _event(session, event_id, for_update=True)
    a, b = sorted((member_a, member_b))
    existing = await session.get(SeatingKeepApart, (event.id, a, b))
    if existing is None:
        raise NotFound("Those two are not kept apart.")
    await session.delete(existing)
    await session.flush()


async def rules(session: AsyncSession, event_id: uuid.UUID) -> SeatingRules:
    event = await _event(session, event_id)
    pins = await repository.pins(session, event.id)
    return SeatingRules(
        pins={str(m): t for m, t in sorted(pins.items())},
        keep_apart=[[a, b] for a, b in await repository.keep_apart(session, event.id)],
    )


class CaseSeat(NamedTuple):
    """Where a seated member's case is discussed: their table in the case's round."""

    table_id: uuid.UUID
    round: int


# What a published seating means above this area (the cases are scheduled at their authors'
# tables), in the same transaction: (session, event id, where each seated member's case
# would be discussed).
published: Followers[[AsyncSession, uuid.UUID, Mapping[uuid.UUID, CaseSeat]]] = Followers(
    "seating published"
)


async def published_table_of(
    session: AsyncSession, event_id: uuid.UUID, member_id: uuid.UUID
) -> EventTable | None:
    """The published table a member sits at (in the first round), or facilitates."""
    found, _ = await repository.tables_of(session, event_id, member_id)
    return found[0] if found else None


async def publish(
    session: AsyncSession,
    *,
    admin: Principal,
    context: RequestContext,
    event_id: uuid.UUID,
    if_match: str | None,
) -> SeatingPlanRead:
    """Make the plan the event's tables, and its pairs part of everyone's history."""
    event = await _event(session, event_id, for_update=True)
    plan = await repository.current_plan(session, event.id, for_update=True)
    if plan is None:
        raise SeatingNotReady("Generate a seating plan first.")
    options = SeatingOptions.model_validate(plan.options)
    rounds = _plan_rounds(plan)
    seated = _members_of(rounds)
    seating = await _seating(session, event, options, seated, plan)
    if if_match is not None:
        check_if_match(if_match, etag_of(view(plan, seating)))
    if plan.status == PlanStatus.published:
        return view(plan, seating)  # publishing twice is publishing once
    attending = await repository.attending(session, event.id)
    left, joined = set(seated) - attending, attending - set(seated)
    if left or joined:
        who = ", ".join(sorted(str(m) for m in left | joined))
        raise SeatingNotReady(
            f"The attendees changed since the plan was made ({who}); regenerate or adjust it."
        )
    broken = _broken(seating, plan, rounds)
    if broken:
        number, violation = broken[0]
        raise _rule_broken(violation, round_number=number if len(rounds) > 1 else 0)
    now = datetime.now(UTC)
    for old in await repository.published_plans(session, event.id):
        old.status = PlanStatus.superseded
    await repository.drop_tables(session, event.id)
    await session.flush()
    # One row per table of every round: "Table 3" of round 2 is another table than round 1's.
    placed = [
        (
            EventTable(
                event_id=event.id,
                plan_id=plan.id,
                round=round_number,
                number=number,
                name=f"Table {number}",
                facilitator_id=next(
                    (uuid.UUID(m) for m in members if seating.rows[m].facilitator), None
                ),
                seats=event.table_size,
            ),
            members,
        )
        for round_number, tables in enumerate(rounds, start=1)
        for number, members in enumerate(tables, start=1)
    ]
    session.add_all(table for table, _ in placed)
    await session.flush()  # the tables before their seats, which refer to them
    session.add_all(
        TableSeat(table_id=table.id, member_id=uuid.UUID(m), event_id=event.id, round=table.round)
        for table, members in placed
        for m in members
    )
    case_rounds = _case_rounds(plan)
    case_seats = {
        uuid.UUID(m): CaseSeat(table.id, table.round)
        for table, members in placed
        for m in members
        if table.round == case_rounds.get(m, 1)
    }
    await published.run(session, event.id, case_seats)
    plan.status = PlanStatus.published
    plan.published_at = now
    plan.version += 1
    plan.updated_at = now
    await session.flush()
    emit(
        session,
        SEATING_PUBLISHED,
        SeatingPublished(
            id=plan.id,
            version=plan.version,
            event_id=str(event.id),
            tables=len(rounds[0]),
            seated=len(seated),
        ),
    )
    audit.record(
        session,
        context=context,
        action="seating.published",
        target_type="event",
        target_id=event.id,
        actor_id=admin.id,
        details={"plan_id": str(plan.id), "tables": len(rounds[0]), "rounds": len(rounds)},
    )
    return view(plan, seating)


def _member_view(viewer: Viewer, member: Member, facilitator: bool) -> TableMember:
    visibilities = {
        name: getattr(member, f"{name}_visibility")
        for name in ("company", "job_title", "phone", "email")
    }
    shown = set(visible_private_fields(viewer, member.id, visibilities))
    return TableMember(
        member_id=member.id,
        full_name=member.full_name,
        function=member.function,
        seniority=member.seniority,
        facilitator=facilitator,
        **{name: getattr(member, name) for name in shown},
    )


async def _tables_view(
    session: AsyncSession,
    viewer: Viewer,
    tables: list[EventTable],
    *,
    all_cases: Callable[[EventTable], bool],
    reader: tuple[Principal, RequestContext],
    seated_reader: bool = False,
) -> list[TableRead]:
    """The tables with their people and cases, read in three queries whatever their number
    (every round's at once). An admin sees everyone's private fields: the read is audited
    like any other. ``seated_reader``: the viewer sits at these tables, so everyone seated at
    them is their table-mate."""
    seats = await repository.seats(session, [t.id for t in tables])
    if seated_reader:
        seated = frozenset(m for _, m in seats) - {viewer.id}
        viewer = replace(viewer, table_mates=viewer.table_mates | seated)
    people = {m.id: m for m in await repository.members(session, [m for _, m in seats])}
    audit_private_read(session, *reader, [fields_of(m) for m in people.values()])
    at_table: dict[uuid.UUID, list[Member]] = {t.id: [] for t in tables}
    for table_id, member_id in seats:
        if member_id in people:
            at_table[table_id].append(people[member_id])
    cases_at: dict[uuid.UUID, list[TableCase]] = {t.id: [] for t in tables}
    sees_every_case = {t.id for t in tables if all_cases(t)}
    for case in await repository.cases_at(session, [t.id for t in tables]):
        hidden = (
            case.table_id not in sees_every_case and case.visibility == CaseVisibility.facilitators
        )
        if (
            case.table_id is None
            or hidden
            or case.status in (CaseStatus.withdrawn, CaseStatus.declined)
        ):
            continue
        cases_at[case.table_id].append(
            TableCase(id=case.id, title=case.title, author_id=case.author_id, status=case.status)
        )
    return [
        TableRead(
            id=t.id,
            event_id=t.event_id,
            round=t.round,
            number=t.number,
            name=t.name,
            facilitator_id=t.facilitator_id,
            seats=t.seats,
            members=[
                _member_view(viewer, m, m.id == t.facilitator_id)
                for m in sorted(at_table[t.id], key=lambda m: (m.full_name, m.id))
            ],
            cases=cases_at[t.id],
        )
        for t in tables
    ]


async def event_tables(
    session: AsyncSession, *, admin: Principal, context: RequestContext, event_id: uuid.UUID
) -> list[TableRead]:
    event = await _event(session, event_id)
    viewer = Viewer(id=admin.id, is_admin=True, sees_members=True)
    return await _tables_view(
        session,
        viewer,
        list(await repository.tables(session, event.id)),
        all_cases=lambda _: True,
        reader=(admin, context),
    )


async def my_table(
    session: AsyncSession, *, principal: Principal, context: RequestContext, event_id: uuid.UUID
) -> MyTableRead:
    """The reader's table at the event, in every round: its people (as consent allows) and
    cases."""
    event = await _event(session, event_id)
    if not may_read(principal, event):
        # An event the reader may not see (a draft) is as unknown as one that does not exist:
        # "no table here" would tell them it does.
        raise NotFound("No such event.")
    mine, seated = await repository.tables_of(session, event.id, principal.id)
    if not mine:
        raise NotFound("You have no table at this event (yet).")
    facilitated = {t.id for t in mine if t.facilitator_id == principal.id}
    # Everyone shown sits at a table the reader sat at, so each is a table-mate by definition
    # (``seated_reader``); a facilitator without a seat may still have sat with some of them
    # at another event.
    viewer = (
        Viewer(id=principal.id, is_admin=principal.is_admin, sees_members=principal.sees_members)
        if seated
        else await viewer_with_every_mate(session, principal)
    )
    # A facilitator sees every case at the table they facilitate, in that round.
    views = await _tables_view(
        session,
        viewer,
        mine,
        all_cases=lambda table: principal.is_admin or table.id in facilitated,
        reader=(principal, context),
        seated_reader=seated,
    )
    return MyTableRead(**views[0].model_dump(), rounds=views)


# -- organisers' messages to an event's people ------------------------------------------------


async def _message_scope(
    session: AsyncSession, principal: Principal, event_id: uuid.UUID
) -> tuple[Event, list[uuid.UUID] | None]:
    """The event and the tables the sender may write to (None: all of it, for admins)."""
    event = await _event(session, event_id)
    if principal.is_admin:
        return event, None
    tables = await repository.facilitated_tables(session, event_id, principal.id)
    if not tables:  # a facilitator of other events: this one is not theirs
        raise NotFound("No such event.")
    return event, tables


async def _reach(
    session: AsyncSession,
    event_id: uuid.UUID,
    statuses: list[str],
    table_ids: list[uuid.UUID] | None,
) -> list[uuid.UUID]:
    audience = await repository.message_audience(session, event_id, statuses, table_ids)
    muted = await muting(session, audience, NotificationKind.messages)
    return [m for m in audience if m not in muted]


async def preview_message(
    session: AsyncSession, *, principal: Principal, event_id: uuid.UUID, data: EventMessageCreate
) -> EventMessagePreview:
    _, tables = await _message_scope(session, principal, event_id)
    reach = await _reach(session, event_id, [a.value for a in data.audience], tables)
    return EventMessagePreview(recipients=len(reach))


def _message_view(message: EventMessage) -> EventMessageRead:
    return EventMessageRead(
        id=message.id,
        event_id=message.event_id,
        subject=message.subject,
        audience=[MessageAudience(s) for s in message.statuses],
        tables_only=message.table_ids is not None,
        recipients=message.recipients,
        created_at=message.created_at,
    )


async def send_message(
    session: AsyncSession,
    *,
    principal: Principal,
    context: RequestContext,
    event_id: uuid.UUID,
    data: EventMessageCreate,
) -> EventMessageRead:
    """Keep the message and queue its e-mails (the outbox: one delivery per person, logged).
    The people are counted now and found again when the e-mails go out."""
    _, tables = await _message_scope(session, principal, event_id)
    statuses = sorted({a.value for a in data.audience})
    reach = await _reach(session, event_id, statuses, tables)
    if not reach:
        raise Conflict("Nobody to write to: no one in this audience wants organisers' messages.")
    message = EventMessage(
        event_id=event_id,
        author_id=principal.id,
        subject=data.subject,
        body=data.body,
        statuses=statuses,
        table_ids=None if tables is None else [str(t) for t in tables],
        recipients=len(reach),
    )
    session.add(message)
    await session.flush()
    emit(
        session,
        EVENT_MESSAGE_SENT,
        EventMessageSent(id=message.id, version=1, event_id=str(event_id)),
    )
    audit.record(
        session,
        actor_id=principal.id,
        action="event.message_sent",
        target_type="event",
        target_id=event_id,
        context=context,
        details={"message_id": str(message.id), "recipients": len(reach), "audience": statuses},
    )
    return _message_view(message)


async def message_recipients(session: AsyncSession, message_id: uuid.UUID) -> list[uuid.UUID]:
    """Who a message's e-mails go to, when they go out (opt-outs since are honoured)."""
    message = await repository.message(session, message_id)
    if message is None:
        return []
    tables = None if message.table_ids is None else [uuid.UUID(t) for t in message.table_ids]
    return await _reach(session, message.event_id, list(message.statuses), tables)


async def message_for_email(
    session: AsyncSession, message_id: uuid.UUID
) -> tuple[EventMessage, Event] | None:
    message = await repository.message(session, message_id)
    event = await repository.event(session, message.event_id) if message else None
    return None if message is None or event is None else (message, event)
