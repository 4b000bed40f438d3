"""Seat the attendees of an event: the entry point of the seating package.

``solve`` never returns a plan that breaks a hard rule. When the rules cannot all hold it says
which rule and which people, and only when that is proven (by counting, or by exhaustive
search on instances small enough for it). The clock is passed in, so the module stays pure.
"""

import random
import time
from collections.abc import Callable

from app.tables.seating import exact
from app.tables.seating.model import Instance, Plan
from app.tables.seating.rules import disproof, layout, violations
from app.tables.seating.scoring import evaluate
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
    moves = instance.max_moves or min(
        MAX_MOVES, max(MIN_MOVES, MOVES_PER_ATTENDEE * len(instance.attendees))
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
