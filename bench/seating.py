"""The seating solver on three instances, each next to two baselines from the same run.

    .venv/bin/python -m bench.seating [--no-write]

1. one event: 66 attendees, tables of 8, a realistic mix of functions and seniority, six
   pairs of colleagues, 8 facilitators, 10 cases, and the history of earlier meetings;
2. a season: 150 members, ten events with about 65 % of them at each; every plan's pairs
   join the history the next event is seated against;
3. scale: 2,000 attendees at 250 tables.

Then rounds (one event seating everyone several times, planned together):

4. 64 people at 8 tables of 8 over 9 rounds, no other rule (the affine plane's limit: 0);
5. the same with 8 companies of 8 (one facilitator in each): 0 hard violations, repeats
   within 10 % of the counting lower bound;
6. 2,000 people at 250 tables for 3 rounds, with the rules of instance 3;
7. a season of ten events, 150 members of whom 60 to 80 come each time (some nearly always,
   some seldom), with 1 and with 3 rounds each: the new planner (rounds together, season-aware)
   against today's solver (one seating at a time against the pairs before it), and the
   hindsight lower bound of the season's repeated pairs (``season_lower_bound``).

For rounds the baselines seat one round after the other against the rounds before it:
*today* is the single-round solver, *greedy* and *random* the baselines below.

Baselines, implemented here: *random* (people in random order, each at a random table that
keeps every hard rule) and *greedy* (each person, the most constrained first, at the table
where they add the least cost). Everything runs in this process, on one core.
"""

import argparse
import os
import platform
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from app.tables.seating.model import Attendee, Instance, Meeting
from app.tables.seating.rounds import (
    case_rounds,
    evaluate_rounds,
    repeat_lower_bound,
    round_instance,
    round_violations,
    season_lower_bound,
)
from app.tables.seating.rules import company_keys, layout, spread_limits, violations
from app.tables.seating.scoring import Costs, evaluate
from app.tables.seating.solver import solve, solve_rounds
from bench import report

FUNCTIONS = {
    "CTO": 25,
    "CIO": 20,
    "CDO": 12,
    "CPO": 8,
    "CEO": 8,
    "CMO": 8,
    "CFO": 6,
    "COO": 6,
    "CHRO": 4,
    "head_of_engineering": 3,
}
SENIORITY = {1: 5, 2: 20, 3: 35, 4: 30, 5: 10}

Seater = Callable[[Instance, random.Random], list[list[str]]]


def people(
    count: int, rng: random.Random, *, colleagues: int, facilitators: int, cases: int
) -> list[Attendee]:
    """A community: functions and seniority as the members' survey found them."""
    functions = rng.choices(list(FUNCTIONS), weights=list(FUNCTIONS.values()), k=count)
    levels = rng.choices(list(SENIORITY), weights=list(SENIORITY.values()), k=count)
    return [
        Attendee(
            id=f"m{i:04d}",
            function=functions[i],
            seniority=levels[i],
            company=f"Company {i // 2}" if i < 2 * colleagues else f"Solo {i}",
            facilitator=count - facilitators <= i,
            has_case=i % (count // cases or 1) == 1 and i // (count // cases or 1) < cases,
        )
        for i in range(count)
    ]


def random_plan(instance: Instance, rng: random.Random) -> list[list[str]]:
    """Random order, random table among those that keep the hard rules (with restarts)."""
    shape = layout(instance)
    keys = company_keys(instance.attendees)
    apart = {frozenset(p) for p in instance.keep_apart}
    fac_low, fac_high = spread_limits(sum(p.facilitator for p in instance.attendees), shape.tables)
    case_low, case_high = spread_limits(sum(p.has_case for p in instance.attendees), shape.tables)
    for _ in range(1000):
        order = list(instance.attendees)
        rng.shuffle(order)
        # Facilitators and case authors first, else the last tables may find none left.
        order.sort(key=lambda p: (p.pinned_table is None, not p.facilitator, not p.has_case))
        tables: list[list[Attendee]] = [[] for _ in range(shape.tables)]
        larger = 0
        for person in order:

            def fits(
                t: int,
                person: Attendee = person,
                tables: list[list[Attendee]] = tables,
                larger: int = larger,
            ) -> bool:
                members = tables[t]
                if len(members) > shape.base or (
                    len(members) == shape.base and larger >= shape.larger
                ):
                    return False
                if person.pinned_table is not None and person.pinned_table != t + 1:
                    return False
                if keys.get(person.id) and any(keys.get(m.id) == keys[person.id] for m in members):
                    return False
                if any(frozenset((person.id, m.id)) in apart for m in members):
                    return False
                if person.facilitator and sum(m.facilitator for m in members) >= fac_high:
                    return False
                return not (person.has_case and sum(m.has_case for m in members) >= case_high)

            options = [t for t in range(shape.tables) if fits(t)]
            if person.facilitator and fac_low:
                options = [
                    t for t in options if not any(m.facilitator for m in tables[t])
                ] or options
            if person.has_case and case_low:
                options = [t for t in options if not any(m.has_case for m in tables[t])] or options
            if not options:
                break
            chosen = rng.choice(options)
            tables[chosen].append(person)
            larger += len(tables[chosen]) == shape.base + 1
        else:
            plan = [[m.id for m in t] for t in tables]
            if not violations(instance, plan):
                return plan
    raise RuntimeError("the random baseline found no valid plan in 1,000 tries")


def greedy_plan(instance: Instance, rng: random.Random) -> list[list[str]]:
    """Most constrained first, each at the valid table where the cost grows least."""
    shape = layout(instance)
    costs = Costs(instance)
    keys = company_keys(instance.attendees)
    fac_high = spread_limits(sum(p.facilitator for p in instance.attendees), shape.tables)[1]
    case_high = spread_limits(sum(p.has_case for p in instance.attendees), shape.tables)[1]
    order = list(instance.attendees)
    rng.shuffle(order)
    order.sort(key=lambda p: (not p.facilitator, not p.has_case))
    tables: list[list[Attendee]] = [[] for _ in range(shape.tables)]
    larger = 0
    for person in order:
        best, best_cost = -1, float("inf")
        for t, members in enumerate(tables):
            if len(members) > shape.base or (len(members) == shape.base and larger >= shape.larger):
                continue
            if keys.get(person.id) and any(keys.get(m.id) == keys[person.id] for m in members):
                continue
            facilitators = sum(m.facilitator for m in members)
            if person.facilitator and facilitators >= fac_high:
                continue
            if person.has_case and sum(m.has_case for m in members) >= case_high:
                continue
            ids = [m.id for m in members]
            added = costs.table(ids + [person.id])[0] - costs.table(ids)[0]
            # Spread facilitators and cases: an empty-handed table first.
            added -= 1000 * (person.facilitator and facilitators == 0)
            added -= 1000 * (person.has_case and not any(m.has_case for m in members))
            if added < best_cost:
                best, best_cost = t, added
        if best < 0:
            raise RuntimeError("the greedy baseline got stuck")
        tables[best].append(person)
        larger += len(tables[best]) == shape.base + 1
    return [[m.id for m in t] for t in tables]


def solver_plan(instance: Instance, rng: random.Random) -> list[list[str]]:
    plan = solve(instance)
    if plan.status != "ok":
        raise RuntimeError(f"the solver said {plan.status}: {plan.infeasible}")
    return [list(t.attendees) for t in plan.tables]


METHODS: dict[str, Seater] = {"solver": solver_plan, "greedy": greedy_plan, "random": random_plan}


def measure(instance: Instance, seat: Seater) -> dict[str, float]:
    started = time.process_time()
    plan = seat(instance, random.Random(instance.seed))
    spent = time.process_time() - started
    _, metrics = evaluate(instance, plan)
    return {
        "hard": len(violations(instance, plan)),
        "repeats": metrics.repeated_pairs,
        "functions": metrics.duplicate_function_pairs,
        "range": metrics.seniority_range_mean,
        "max_range": metrics.seniority_range_max,
        "time": spent,
    }


def history_among(
    members: list[Attendee], rng: random.Random, pairs: int, today: date
) -> tuple[Meeting, ...]:
    ids = [m.id for m in members]
    return tuple(
        Meeting(
            *rng.sample(ids, 2),
            times=rng.choice([1, 1, 1, 2, 3]),
            last_met=today - timedelta(days=rng.randrange(30, 700)),
        )
        for _ in range(pairs)
    )


def one_event() -> Instance:
    rng = random.Random(1)
    members = people(66, rng, colleagues=6, facilitators=8, cases=10)
    return Instance(
        table_size=8,
        attendees=tuple(members),
        seed=1,
        time_limit_s=20,
        history=history_among(members, rng, 400, date(2026, 11, 1)),
    )


def scale() -> Instance:
    rng = random.Random(3)
    members = people(2000, rng, colleagues=150, facilitators=250, cases=250)
    return Instance(
        table_size=8,
        attendees=tuple(members),
        seed=3,
        time_limit_s=60,
        history=history_among(members, rng, 20_000, date(2026, 11, 1)),
    )


def remember(
    met: dict[frozenset[str], Meeting], tables: Iterable[Sequence[str]], day: date
) -> None:
    """Add every pair seated at ``tables`` on ``day`` to ``met``, the history the next event
    of a season is seated against."""
    for table in tables:
        for i, a in enumerate(table):
            for b in table[i + 1 :]:
                key = frozenset((a, b))
                before = met.get(key)
                met[key] = Meeting(a, b, (before.times if before else 0) + 1, day)


def season(seat: Seater) -> list[int]:
    """Ten events of the same community; repeated pairs at each, history growing."""
    rng = random.Random(2)
    community = people(150, rng, colleagues=10, facilitators=12, cases=15)
    met: dict[frozenset[str], Meeting] = {}
    repeats = []
    day = date(2026, 1, 20)
    for number in range(10):
        attendees = sorted(rng.sample(community, round(len(community) * 0.65)), key=lambda a: a.id)
        instance = Instance(
            table_size=8,
            attendees=tuple(attendees),
            seed=number,
            history=tuple(met.values()),
            reference_date=day,
            time_limit_s=20,
        )
        plan = seat(instance, random.Random(number))
        assert not violations(instance, plan)
        repeats.append(evaluate(instance, plan)[1].repeated_pairs)
        remember(met, plan, day)
        day += timedelta(days=28)
    return repeats


RoundsSeater = Callable[[Instance, dict[str, int]], list[list[list[str]]]]


def one_round_at_a_time(seat: Seater) -> RoundsSeater:
    """Seat the rounds one after the other, each against the pairs of the rounds before."""

    def plan_rounds(instance: Instance, cases: dict[str, int]) -> list[list[list[str]]]:
        plan: list[list[list[str]]] = []
        history = instance.history
        for number in range(1, instance.rounds + 1):
            one = replace(round_instance(instance, number, cases), history=history)
            tables = seat(one, random.Random(instance.seed + number))
            plan.append(tables)
            history += tuple(
                Meeting(a, b, 1, instance.reference_date)
                for table in tables
                for i, a in enumerate(table)
                for b in table[i + 1 :]
            )
        return plan

    return plan_rounds


def together(instance: Instance, cases: dict[str, int]) -> list[list[list[str]]]:
    result = solve_rounds(instance)
    if result.status != "ok":
        raise RuntimeError(f"the solver said {result.status}: {result.infeasible}")
    return [[list(t.attendees) for t in tables] for tables in result.rounds]


ROUND_METHODS: dict[str, RoundsSeater] = {
    "solver": together,
    "today": one_round_at_a_time(solver_plan),
    "greedy": one_round_at_a_time(greedy_plan),
    "random": one_round_at_a_time(random_plan),
}


def measure_rounds(instance: Instance, seat: RoundsSeater) -> dict[str, float]:
    cases = case_rounds(instance)
    started = time.process_time()
    plan = seat(instance, cases)
    spent = time.process_time() - started
    _, _, metrics = evaluate_rounds(instance, plan, cases=cases)
    return {
        "hard": len(round_violations(instance, plan, cases)),
        "repeats": metrics.repeated_pairs,
        "functions": metrics.duplicate_function_pairs,
        "time": spent,
    }


def golfers(companies: bool) -> Instance:
    attendees = tuple(
        Attendee(
            id=f"m{i:02d}",
            company=f"Company {i % 8}" if companies else None,
            facilitator=companies and i < 8,
        )
        for i in range(64)
    )
    return Instance(table_size=8, attendees=attendees, rounds=9, seed=1, time_limit_s=30)


def scale_rounds() -> Instance:
    return replace(scale(), rounds=3, time_limit_s=60)


def season_events() -> list[list[Attendee]]:
    """Who comes to each of the ten events of a community of 150 where some come nearly
    always and some seldom (60 to 80 each time)."""
    rng = random.Random(2)
    community = people(150, rng, colleagues=10, facilitators=12, cases=15)
    likelihood = [rng.choice([0.9, 0.7, 0.4, 0.2]) for _ in community]
    events = []
    for _ in range(10):
        size = rng.randint(60, 80)
        chosen: set[int] = set()
        while len(chosen) < size:
            chosen.add(rng.choices(range(len(community)), weights=likelihood)[0])
        events.append([community[i] for i in sorted(chosen)])
    return events


def season_bound(rounds: int) -> int:
    """The fewest repeated pairs any plans of the season can have, knowing every event's
    attendees in advance (which no planner does)."""
    return season_lower_bound(
        [Instance(table_size=8, attendees=tuple(a), rounds=rounds) for a in season_events()]
    )


def season_rounds(rounds: int, aware: bool) -> tuple[int, int, float, float]:
    """The season's events one after the other, each planned knowing only the history and
    how often each attendee came so far: total repeated pairs, total same-function pairs,
    the mean seniority range, CPU seconds. ``aware`` plans with the rounds together and tells
    the solver how often each attendee came so far."""
    met: dict[frozenset[str], Meeting] = {}
    came: Counter[str] = Counter()
    repeats = functions = 0
    spread = spent = 0.0
    day = date(2026, 1, 20)
    events = season_events()
    for number, attendees in enumerate(events):
        if aware:
            attendees = [
                replace(a, attendance=came[a.id] / number if number else 0.0) for a in attendees
            ]
        instance = Instance(
            table_size=8,
            attendees=tuple(attendees),
            seed=number,
            history=tuple(met.values()),
            reference_date=day,
            time_limit_s=20,
            rounds=rounds,
        )
        cases = case_rounds(instance)
        started = time.process_time()
        plan = (together if aware else ROUND_METHODS["today"])(instance, cases)
        spent += time.process_time() - started
        assert not round_violations(instance, plan, cases)
        metrics = evaluate_rounds(instance, plan, cases=cases)[2]
        repeats += metrics.repeated_pairs
        functions += metrics.duplicate_function_pairs
        spread += metrics.seniority_range_mean / len(events)
        for person in attendees:
            came[person.id] += 1
        for tables in plan:
            remember(met, tables, day)
        day += timedelta(days=28)
    return repeats, functions, spread, spent


def run_rounds() -> list[str]:
    lines = [
        "",
        "Rounds (all rounds of one event planned together). *Bound* is the counting lower "
        "bound of repeated pairs (no plan has fewer); *today*, *greedy* and *random* seat one "
        "round after another.\n",
        "| Instance | Method | Hard | Repeated pairs | Bound | Same-function pairs | Time, s |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, instance in (
        ("4. 64 at 8 tables, 9 rounds", golfers(companies=False)),
        ("5. the same, 8 companies of 8, 8 facilitators", golfers(companies=True)),
        ("6. 2,000 at 250 tables, 3 rounds", scale_rounds()),
    ):
        bound = repeat_lower_bound(instance)
        for name, seat in ROUND_METHODS.items():
            m = measure_rounds(instance, seat)
            lines.append(
                f"| {label} | {name} | {m['hard']} | {m['repeats']} | {bound} | "
                f"{m['functions']} | {m['time']:.2f} |"
            )
    lines += [
        "",
        "Season with rounds (150 members, ten events of 60 to 80): totals over the season. "
        "*Bound* is the hindsight lower bound of repeated pairs (no plans have fewer, even "
        "knowing every event's attendees in advance).\n",
        "| Rounds per event | Method | Repeated pairs | Bound | Same-function pairs | "
        "Seniority range mean | Time, s |",
        "|---|---|---|---|---|---|---|",
    ]
    for rounds in (1, 3):
        bound = season_bound(rounds)
        for name, aware in (("solver (season-aware)", True), ("today", False)):
            repeats, functions, spread, spent = season_rounds(rounds, aware)
            lines.append(
                f"| {rounds} | {name} | {repeats} | {bound} | {functions} | {spread:.2f} | "
                f"{spent:.1f} |"
            )
    return lines


def run(write: bool) -> str:
    lines = [
        "## Seating solver\n",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs "
        f"({report.cpu_model()}), Python {platform.python_version()}, with "
        "`.venv/bin/python -m bench.seating` (one core, CPU time). Lower is better everywhere; "
        "*hard* counts broken hard rules.\n",
        "| Instance | Method | Hard | Repeated pairs | Same-function pairs | "
        "Seniority range mean (max) | Time, s |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, instance in (
        ("1. one event (66, tables of 8)", one_event()),
        ("3. scale (2,000 at 250 tables)", scale()),
    ):
        for name, seat in METHODS.items():
            m = measure(instance, seat)
            lines.append(
                f"| {label} | {name} | {m['hard']} | {m['repeats']} | "
                f"{m['functions']} | {m['range']:.2f} ({m['max_range']}) | "
                f"{m['time']:.2f} |"
            )
    lines += [
        "",
        "Season (150 members, ten events of about 98, history growing): repeated "
        "pairs per event and in total.\n",
        "| Method | Per event | Total |",
        "|---|---|---|",
    ]
    for name, seat in METHODS.items():
        per_event = season(seat)
        lines.append(f"| {name} | {', '.join(map(str, per_event))} | {sum(per_event)} |")
    lines += run_rounds()
    lines.append("")
    section = "\n".join(lines) + "\n"
    if write:
        report.write(section, marker="seating")
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print, do not touch README")
    print(run(not parser.parse_args().no_write))


if __name__ == "__main__":
    main()
