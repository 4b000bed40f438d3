"""Seat the attendees of an event: the entry point of the seating package.

``solve`` never returns a plan that breaks a hard rule. When the rules cannot all hold it says
which rule and which people, and only when that is proven (by counting, or by exhaustive
search on instances small enough for it). The clock is passed in, so the module stays pure.
"""

import random
import time
from collections.abc import Callable
from dataclasses import replace

from app.tables.seating import exact
from app.tables.seating.model import Attendee, Instance, Meeting, Plan, RoundsPlan, Violation
from app.tables.seating.rounds import (
    MAX_ROUNDS,
    RoundsSearch,
    case_rounds,
    default_moves,
    evaluate_rounds,
    repeat_lower_bound,
    round_instance,
    round_violations,
)
from app.tables.seating.rules import disproof, layout, violations
from app.tables.seating.scoring import SEASON_SEARCH, evaluate, season_aware
from app.tables.seating.search import MAX_MOVES, MIN_MOVES, MOVES_PER_ATTENDEE, Seating

# Exhaustive search is tried when the local search found no valid plan and the instance is
# small enough to settle it quickly.
EXACT_SEARCH_MAX_ATTENDEES = 60
# Fresh greedy starts the local search may take before it gives up on keeping the rules.
RESTARTS = 4


def solve(instance: Instance, clock: Callable[[], float] = time.perf_counter) -> Plan:
    started = clock()
    proof = disproof(instance)
    if proof is not None:
        return Plan(status="infeasible", infeasible=proof)
    shape = layout(instance)
    seating = Seating(instance, shape)
    rng = random.Random(instance.seed)
    per_attendee = MOVES_PER_ATTENDEE * (SEASON_SEARCH if season_aware(instance) else 1)
    moves = instance.max_moves or min(
        MAX_MOVES, max(MIN_MOVES, round(per_attendee * len(instance.attendees)))
    )
    deadline = started + instance.time_limit_s
    moves_made = 0
    out_of_time = False
    tables: list[list[int]] | None = None
    for _ in range(RESTARTS):
        start = seating.start(rng)
        tables, made, out_of_time = seating.anneal(start, rng, moves, deadline, clock)
        moves_made += made
        if all(seating.violations(t) == 0 for t in tables) or out_of_time:
            break
    assert tables is not None
    plan = [[seating.ids[i] for i in members] for members in tables]
    if violations(instance, plan):
        if len(instance.attendees) > EXACT_SEARCH_MAX_ATTENDEES:
            return Plan(status="not_found")
        found = exact.find_plan(instance)
        if found is None:
            return Plan(status="infeasible", infeasible=exact.explain(instance))
        if found == exact.UNKNOWN or isinstance(found, str):
            return Plan(status="not_found")
        plan = found
    table_plans, metrics = evaluate(
        instance,
        plan,
        moves=moves_made,
        time_s=clock() - started,
        stopped_by="time_limit" if out_of_time else "moves",
    )
    return Plan(status="ok", tables=table_plans, metrics=metrics)


def solve_rounds(instance: Instance, clock: Callable[[], float] = time.perf_counter) -> RoundsPlan:
    """Seat the attendees ``instance.rounds`` times, the rounds planned together.

    Like ``solve``, it never returns a plan that breaks a hard rule in any round. The search
    starts from the affine plane when the sizes allow it, else from a greedy seating round
    by round; when it ends with a rule still broken, each round is seated on its own by
    ``solve`` against the rounds before it (fewer new people met, but every rule kept).
    """
    started = clock()
    count = instance.rounds
    if not 1 <= count <= MAX_ROUNDS:
        return RoundsPlan(
            status="infeasible",
            infeasible=Violation("rounds", (), f"{count} rounds; 1 to {MAX_ROUNDS} are possible"),
        )
    cases = case_rounds(instance)
    bound = repeat_lower_bound(instance)
    if count == 1:
        single = solve(replace(instance, attendees=_cases_of_round(instance, 1, cases)), clock)
        return _finish(
            instance,
            cases,
            bound,
            [[list(t.attendees) for t in single.tables]],
            single,
            "greedy",
            started,
            clock,
        )
    for number in range(1, count + 1):
        proof = disproof(round_instance(instance, number, cases))
        if proof is not None:
            return RoundsPlan(status="infeasible", infeasible=proof)
    shape = layout(instance)
    search = RoundsSearch(instance, shape, cases)
    rng = random.Random(instance.seed)
    deadline = started + instance.time_limit_s
    start = search.design_start()
    how = "affine_plane" if start is not None else "greedy"
    if start is None:
        start = search.greedy_start(rng)
    search.place_fixed(start)
    best, moves_made, out_of_time = search.improve(
        start, rng, default_moves(instance), deadline, clock
    )
    plan = [[[search.ids[i] for i in members] for members in tables] for tables in best]
    if round_violations(instance, plan, cases):
        fallback = _round_by_round(instance, cases, clock)
        if isinstance(fallback, RoundsPlan):
            return fallback
        plan, how = fallback, "round_by_round"
    return _finish(
        instance,
        cases,
        bound,
        plan,
        None,
        how,
        started,
        clock,
        moves=moves_made,
        stopped_by="time_limit" if out_of_time else "moves",
    )


def _cases_of_round(instance: Instance, number: int, cases: dict[str, int]) -> tuple[Attendee, ...]:
    return round_instance(instance, number, cases).attendees


def _round_by_round(
    instance: Instance, cases: dict[str, int], clock: Callable[[], float]
) -> list[list[list[str]]] | RoundsPlan:
    """Each round seated by ``solve`` against the earlier ones (staying facilitators pinned
    to their first table): the fallback that keeps every rule when the joint search did not.
    A round ``solve`` proves impossible on its own makes the plan impossible; one that is
    impossible only with the facilitators where the first round put them proves nothing."""
    plan: list[list[list[str]]] = []
    home: dict[str, int] = {}
    for number in range(1, instance.rounds + 1):
        one = round_instance(instance, number, cases)
        if instance.facilitators_stay and home:
            one = replace(
                one,
                attendees=tuple(
                    replace(p, pinned_table=home.get(p.id, p.pinned_table)) for p in one.attendees
                ),
            )
        meetings = tuple(
            Meeting(a, b, 1, instance.reference_date)
            for tables in plan
            for members in tables
            for i, a in enumerate(members)
            for b in members[i + 1 :]
        )
        found = solve(
            replace(
                one,
                history=one.history + meetings,
                time_limit_s=max(0.5, instance.time_limit_s / instance.rounds),
            ),
            clock,
        )
        if found.status != "ok":
            if found.status == "infeasible" and not (instance.facilitators_stay and home):
                return RoundsPlan(status="infeasible", infeasible=found.infeasible)
            return RoundsPlan(status="not_found")
        tables = [list(t.attendees) for t in found.tables]
        if number == 1:
            home = {
                m: t
                for t, members in enumerate(tables, start=1)
                for m in members
                if m in {p.id for p in instance.attendees if p.facilitator}
            }
        plan.append(tables)
    return plan


def _finish(
    instance: Instance,
    cases: dict[str, int],
    bound: int,
    plan: list[list[list[str]]],
    single: Plan | None,
    how: str,
    started: float,
    clock: Callable[[], float],
    *,
    moves: int = 0,
    stopped_by: str = "moves",
) -> RoundsPlan:
    if single is not None and single.status != "ok":
        return RoundsPlan(status=single.status, infeasible=single.infeasible)
    if single is not None and single.metrics is not None:
        moves, stopped_by = single.metrics.moves, single.metrics.stopped_by
    rounds, per_round, metrics = evaluate_rounds(
        instance, plan, cases=cases, moves=moves, time_s=clock() - started, stopped_by=stopped_by
    )
    return RoundsPlan(
        status="ok",
        rounds=rounds,
        round_metrics=per_round,
        metrics=metrics,
        lower_bound=bound,
        gap=metrics.repeated_pairs - bound,
        case_rounds=tuple(sorted(cases.items())),
        start=how,
    )
