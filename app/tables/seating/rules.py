"""The hard rules of seating: what every returned plan keeps, checked the same way everywhere.

A plan here is a list of tables, each a list of attendee ids, table ``k`` numbered ``k + 1``.
"""

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.companies.names import normalize_company
from app.tables.seating.model import Attendee, Instance, Violation


@dataclass(frozen=True)
class Layout:
    """How many tables, and how many people each may hold: q, or q + 1 at ``r`` tables."""

    tables: int
    base: int  # q: the size of the smaller tables
    larger: int  # r: how many tables hold q + 1

    @property
    def largest(self) -> int:
        return self.base + (1 if self.larger else 0)


def table_count(instance: Instance) -> int:
    if instance.tables is not None:
        return instance.tables
    return max(1, math.ceil(len(instance.attendees) / instance.table_size))


def layout(instance: Instance) -> Layout:
    count = table_count(instance)
    base, larger = divmod(len(instance.attendees), count)
    return Layout(count, base, larger)


def company_keys(attendees: Iterable[Attendee]) -> dict[str, str]:
    """Attendee id -> normalised company, for those whose company is known."""
    keys = {}
    for person in attendees:
        key = normalize_company(person.company)
        if key is not None:
            keys[person.id] = key
    return keys


def spread_limits(count: int, tables: int) -> tuple[int, int]:
    """(at least, at most) per table of a kind there are ``count`` of (facilitators, cases).

    Enough for every table: each gets one. Otherwise no table gets two while another has none.
    """
    if count >= tables:
        return 1, count
    return 0, 1


def violations(instance: Instance, plan: Sequence[Sequence[str]]) -> list[Violation]:
    """Every hard rule ``plan`` breaks; an empty list means the plan may be used."""
    found: list[Violation] = []
    people = {p.id: p for p in instance.attendees}
    shape = layout(instance)
    seated = Counter(member for table in plan for member in table)
    unknown = sorted(m for m in seated if m not in people)
    twice = sorted(m for m, k in seated.items() if k > 1 and m in people)
    missing = sorted(m for m in people if m not in seated)
    if unknown or twice or missing:
        found.append(
            Violation(
                "one_table",
                tuple(unknown + twice + missing),
                "every attendee sits at exactly one table",
            )
        )
    if len(plan) != shape.tables:
        found.append(
            Violation(
                "table_count", (), f"the plan has {len(plan)} tables, {shape.tables} expected"
            )
        )
    low, high = shape.base, shape.largest
    for number, table in enumerate(plan, start=1):
        if not low <= len(table) <= high or len(table) > instance.table_size:
            found.append(
                Violation(
                    "table_size",
                    tuple(table),
                    f"table {number} seats {len(table)}; sizes must be {low}"
                    + (f" or {high}" if high != low else "")
                    + f" and at most {instance.table_size}",
                )
            )
    companies = company_keys(instance.attendees)
    facilitators = {p.id for p in instance.attendees if p.facilitator}
    cases = {p.id for p in instance.attendees if p.has_case}
    apart = {frozenset(pair) for pair in instance.keep_apart}
    for number, table in enumerate(plan, start=1):
        by_company: dict[str, list[str]] = defaultdict(list)
        for member in table:
            if member in companies:
                by_company[companies[member]].append(member)
        for colleagues in by_company.values():
            if len(colleagues) > 1:
                found.append(
                    Violation(
                        "company",
                        tuple(colleagues),
                        f"table {number} seats colleagues from one company",
                    )
                )
        for i, a in enumerate(table):
            for b in table[i + 1 :]:
                if frozenset((a, b)) in apart:
                    found.append(
                        Violation("keep_apart", (a, b), f"table {number} seats a pair kept apart")
                    )
        for member in table:
            pinned = people[member].pinned_table if member in people else None
            if pinned is not None and pinned != number:
                found.append(
                    Violation("pin", (member,), f"pinned to table {pinned}, seated at {number}")
                )
    for rule, kind, group in (
        ("facilitators", "facilitator", facilitators),
        ("cases", "case", cases),
    ):
        least, most = spread_limits(len(group), len(plan) or 1)
        for number, table in enumerate(plan, start=1):
            here = [m for m in table if m in group]
            if len(here) < least:
                found.append(Violation(rule, (), f"table {number} has no {kind}"))
            elif len(here) > most:
                found.append(
                    Violation(
                        rule,
                        tuple(here),
                        f"table {number} has {len(here)} of the {kind}s "
                        f"while another table has none",
                    )
                )
    return found


def disproof(instance: Instance) -> Violation | None:
    """A rule no plan can keep, found by counting; None when counting proves nothing.

    Each check is a necessary condition, so whatever it reports is truly impossible.
    """
    people = instance.attendees
    shape = layout(instance)
    count = shape.tables
    if count < 1 or count > len(people):
        return Violation(
            "table_count",
            (),
            f"{count} tables for {len(people)} attendees: every table needs someone",
        )
    if shape.largest > instance.table_size:
        return Violation(
            "table_size",
            (),
            f"{len(people)} attendees at {count} tables need {shape.largest} seats "
            f"at a table; the table size is {instance.table_size}",
        )
    pinned: dict[int, list[str]] = defaultdict(list)
    for person in people:
        if person.pinned_table is None:
            continue
        if not 1 <= person.pinned_table <= count:
            return Violation(
                "pin",
                (person.id,),
                f"pinned to table {person.pinned_table}; there are {count} tables",
            )
        pinned[person.pinned_table].append(person.id)
    full = [ids for ids in pinned.values() if len(ids) >= shape.largest]
    for ids in pinned.values():
        if len(ids) > shape.largest:
            return Violation(
                "pin", tuple(ids), f"{len(ids)} people pinned to one table of {shape.largest} seats"
            )
    if shape.larger and len(full) > shape.larger:
        return Violation(
            "pin",
            tuple(m for group in full for m in group),
            f"pins fill {len(full)} tables to {shape.largest} seats; "
            f"only {shape.larger} tables may seat that many",
        )
    companies = company_keys(people)
    colleagues: dict[str, list[str]] = defaultdict(list)
    for member, key in companies.items():
        colleagues[key].append(member)
    for ids in colleagues.values():
        if len(ids) > count:
            return Violation(
                "company", tuple(ids), f"{len(ids)} colleagues from one company for {count} tables"
            )
    for ids in pinned.values():
        keys = Counter(companies[m] for m in ids if m in companies)
        clash = [m for m in ids if m in companies and keys[companies[m]] > 1]
        if clash:
            return Violation("company", tuple(clash), "colleagues pinned to one table")
    for a, b in instance.keep_apart:
        pa = next((p.pinned_table for p in people if p.id == a), None)
        pb = next((p.pinned_table for p in people if p.id == b), None)
        if pa is not None and pa == pb:
            return Violation("keep_apart", (a, b), "a pair kept apart is pinned to one table")
    for rule, group in (
        ("facilitators", [p for p in people if p.facilitator]),
        ("cases", [p for p in people if p.has_case]),
    ):
        if len(group) >= count:
            continue
        per_table = Counter(p.pinned_table for p in group if p.pinned_table is not None)
        for number, k in per_table.items():
            if k > 1:
                return Violation(
                    rule,
                    tuple(p.id for p in group if p.pinned_table == number),
                    f"{k} of them pinned to table {number} while another table must have none",
                )
    return None
