"""Exhaustive search for a seating that keeps every hard rule, for small instances.

The local search can miss a plan that exists; this search cannot. It either finds a plan or
proves there is none, within a node budget, which is what lets the solver call an instance
infeasible only when it truly is.
"""

from dataclasses import replace

from app.tables.seating.model import Attendee, Instance, Violation
from app.tables.seating.rules import company_keys, layout, spread_limits

UNKNOWN = "unknown"


class _Budget(Exception):
    pass


def find_plan(instance: Instance, node_budget: int = 200_000) -> list[list[str]] | None | str:
    """A plan keeping every hard rule, None when none exists, or UNKNOWN past the budget."""
    people = list(instance.attendees)
    shape = layout(instance)
    count = shape.tables
    if count < 1 or count > len(people) or shape.largest > instance.table_size:
        return None
    keys = company_keys(people)
    apart: dict[str, set[str]] = {p.id: set() for p in people}
    for a, b in instance.keep_apart:
        if a in apart and b in apart:
            apart[a].add(b)
            apart[b].add(a)
    facilitators = sum(p.facilitator for p in people)
    cases = sum(p.has_case for p in people)
    fac_low, fac_high = spread_limits(facilitators, count)
    case_low, case_high = spread_limits(cases, count)
    # Pinned first, then the scarce kinds, so contradictions show up near the root.
    people.sort(key=lambda p: (p.pinned_table is None, not p.facilitator, not p.has_case))
    tables: list[list[Attendee]] = [[] for _ in range(count)]
    fac_count = [0] * count
    case_count = [0] * count
    nodes = 0
    remaining_fac = [facilitators]
    remaining_case = [cases]

    def fits(person: Attendee, t: int) -> bool:
        members = tables[t]
        if len(members) >= shape.largest:
            return False
        if (
            len(members) == shape.base
            and shape.larger
            and sum(len(m) == shape.largest for m in tables) >= shape.larger
        ):
            return False
        if person.pinned_table is not None and person.pinned_table - 1 != t:
            return False
        key = keys.get(person.id)
        if key is not None and any(keys.get(m.id) == key for m in members):
            return False
        if any(m.id in apart[person.id] for m in members):
            return False
        if person.facilitator and fac_count[t] >= fac_high:
            return False
        return not (person.has_case and case_count[t] >= case_high)

    def lower_bounds_reachable() -> bool:
        # Tables still short of a facilitator (or case) need one of those not yet seated.
        short_fac = sum(max(0, fac_low - c) for c in fac_count)
        short_case = sum(max(0, case_low - c) for c in case_count)
        return short_fac <= remaining_fac[0] and short_case <= remaining_case[0]

    def place(i: int) -> bool:
        nonlocal nodes
        nodes += 1
        if nodes > node_budget:
            raise _Budget
        if i == len(people):
            return all(c >= fac_low for c in fac_count) and all(c >= case_low for c in case_count)
        person = people[i]
        tried_empty = False
        for t in range(count):
            if not tables[t]:
                # Empty tables without pins are interchangeable: trying one is trying all.
                if tried_empty:
                    continue
                tried_empty = person.pinned_table is None
            if not fits(person, t):
                continue
            tables[t].append(person)
            fac_count[t] += person.facilitator
            case_count[t] += person.has_case
            remaining_fac[0] -= person.facilitator
            remaining_case[0] -= person.has_case
            if lower_bounds_reachable() and place(i + 1):
                return True
            tables[t].pop()
            fac_count[t] -= person.facilitator
            case_count[t] -= person.has_case
            remaining_fac[0] += person.facilitator
            remaining_case[0] += person.has_case
        return False

    # Empty tables are only interchangeable if no one is pinned to them yet to come; pinned
    # people are placed first, so by the time an unpinned person sees an empty table, it is.
    try:
        if place(0):
            return [[p.id for p in members] for members in tables]
        return None
    except _Budget:
        return UNKNOWN


def explain(instance: Instance, node_budget: int = 200_000) -> Violation:
    """Which rule makes a proven-infeasible instance so: the first whose relaxation helps."""
    people = instance.attendees
    relaxations: list[tuple[str, Instance, tuple[str, ...]]] = []
    keys = company_keys(people)
    shared = {k for k in keys.values() if list(keys.values()).count(k) > 1}
    relaxations.append(
        (
            "company",
            replace(instance, attendees=tuple(replace(p, company=None) for p in people)),
            tuple(p.id for p in people if keys.get(p.id) in shared),
        )
    )
    relaxations.append(
        (
            "keep_apart",
            replace(instance, keep_apart=()),
            tuple(sorted({m for pair in instance.keep_apart for m in pair})),
        )
    )
    relaxations.append(
        (
            "facilitators",
            replace(instance, attendees=tuple(replace(p, facilitator=False) for p in people)),
            tuple(p.id for p in people if p.facilitator),
        )
    )
    relaxations.append(
        (
            "cases",
            replace(instance, attendees=tuple(replace(p, has_case=False) for p in people)),
            tuple(p.id for p in people if p.has_case),
        )
    )
    relaxations.append(
        (
            "pin",
            replace(instance, attendees=tuple(replace(p, pinned_table=None) for p in people)),
            tuple(p.id for p in people if p.pinned_table is not None),
        )
    )
    for rule, relaxed, ids in relaxations:
        if ids and isinstance(find_plan(relaxed, node_budget), list):
            return Violation(
                rule,
                ids,
                f"no seating keeps the {rule.replace('_', '-')} rule together with the others",
            )
    involved = tuple(sorted({m for _, _, ids in relaxations for m in ids}))
    return Violation("combined", involved, "the rules together leave no possible seating")
