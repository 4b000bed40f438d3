"""The season of ``bench.seating`` planned in hindsight: every event's attendees known in advance.

    .venv/bin/python -m bench.season_hindsight [--rounds 3] [--seconds 60] [--seed 1]
        [--relaxed] [--moves N] [--no-write]

The product plans a season event by event: with three rounds per event it repeats 996 pairs
where the counting bound (``season_lower_bound``) allows 491 and the target is 543. The bound
may be far from what any plans can reach, so this bench estimates the true optimum from
above: it knows who comes to each of the ten events (``season_events``) and improves all
rounds of all events at once by simulated annealing. Whatever it reaches, some plans reach;
the gap between it and the bound is what counting leaves out, the gap between the online
planner and it what not knowing the future costs.

- The start: each round of each event, in season order, filled greedily (each person at the
  valid table where they repeat the fewest pairs so far), so every plan keeps the rules.
- The moves: swap two people between two tables of one round, or, where table sizes differ,
  move one person from a larger table to a smaller one; a move that breaks a hard rule
  (colleagues or pairs kept apart at one table, facilitators or the round's case authors
  beyond ``spread_limits``, a pin) is never made.
- The cost: the season's repeated pairs as ``evaluate_rounds`` counts them event after event
  (every seating of a pair beyond its first), kept exactly in a count of each pair's
  seatings, so a move costs the size of the two tables it touches.
- The schedule: geometric from ``--hot`` to ``--cold`` (in repeats) over the moves. The moves
  come from the CPU budget: a short calibration measures the moves per CPU second, so that
  the same seed and move count give the same plans (``--moves N`` repeats a run exactly).

``--relaxed`` drops companies, facilitators and cases (only the table sizes stay): how much
the rules themselves cost. At the end the plans are checked with ``round_violations`` and
their repeats recounted twice (from scratch, and with ``evaluate_rounds`` event after event
against the growing history, as ``season_rounds`` counts them); the figure reported is the
recount, and the run fails if the annealer's own count differs.
"""

import argparse
import math
import os
import platform
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from app.tables.seating.model import Instance, Meeting
from app.tables.seating.rounds import (
    case_rounds,
    count_move,
    evaluate_rounds,
    round_instance,
    round_violations,
    season_lower_bound,
)
from app.tables.seating.rules import company_keys, layout, spread_limits
from bench import report
from bench.seating import random_plan, remember, season_events

HOT = 0.3
COLD = 0.05
# Where table sizes differ, the share of moves that take one person to a smaller table
# instead of swapping two (swaps alone never change which tables are the larger ones).
MOVE_SHARE = 0.3
# The temperature is set again (and the clock read) once per this many moves.
CHUNK = 1024
# Moves of the throwaway run that measures the moves per CPU second.
CALIBRATION_MOVES = 300_000
# The share of the budget at which the best total so far is reported.
CHECKPOINTS = (0.25, 0.5, 0.75, 1.0)
# Greedy starts tried for one round before the random baseline (which restarts itself).
GREEDY_TRIES = 50

Plan = list[list[list[str]]]  # one event: per round, the tables, each a list of ids
Tables = list[list[int]]  # one round: the tables, each a list of person indexes


def season_instances(rounds: int, relaxed: bool = False) -> list[Instance]:
    """The ten events of ``season_events``, built as ``season_rounds`` builds them (the
    history, the dates and the time limit only matter to the online planner)."""
    events = season_events()
    if relaxed:
        events = [
            [
                replace(a, company=None, facilitator=False, has_case=False, pinned_table=None)
                for a in attendees
            ]
            for attendees in events
        ]
    return [
        Instance(table_size=8, attendees=tuple(attendees), seed=number, rounds=rounds)
        for number, attendees in enumerate(events)
    ]


@dataclass(frozen=True)
class Checkpoint:
    share: float  # of the moves
    moves: int
    cpu_s: float
    best: int


@dataclass(frozen=True)
class Result:
    plans: list[Plan]  # per event
    total: int  # the annealer's own count of the best plans' repeated pairs
    start_total: int
    moves: int
    accepted: int
    cpu_s: float
    checkpoints: tuple[Checkpoint, ...]
    out_of_time: bool  # the deadline stopped the run before its moves (not reproducible)


class Season:
    """All rounds of all events on integer indexes: per round its tables, each person's
    table and each table's facilitators and case authors; over the season how often each
    pair sits together."""

    def __init__(self, events: Sequence[Instance]) -> None:
        if any(event.facilitators_stay for event in events):
            # A staying facilitator would tie the moves of one event's rounds together.
            raise ValueError("facilitators who stay at their table are not supported")
        self.events = list(events)
        self.ids = sorted({p.id for event in events for p in event.attendees})
        self.n = len(self.ids)
        index = {member: i for i, member in enumerate(self.ids)}
        self.index = index
        n = self.n
        self.slots: list[tuple[int, int]] = []  # (event, round 1-based) of each round
        self.shapes = [layout(event) for event in events]
        self.cases = [case_rounds(event) for event in events]
        self.people: list[list[int]] = []  # per event
        self.facilitator: list[list[bool]] = []  # per event, per person
        self.apart: list[list[frozenset[int]]] = []  # per event: who may not sit with whom
        self.pinned: list[list[int]] = []  # per event: the 0-based table, -1 when free
        for number, event in enumerate(events):
            self.people.append([index[p.id] for p in event.attendees])
            facilitator = [False] * n
            pinned = [-1] * n
            for p in event.attendees:
                facilitator[index[p.id]] = p.facilitator
                if p.pinned_table is not None:
                    pinned[index[p.id]] = p.pinned_table - 1
            self.facilitator.append(facilitator)
            self.pinned.append(pinned)
            self.apart.append(self._apart(event))
            for round_number in range(1, event.rounds + 1):
                self.slots.append((number, round_number))
        # Per round: who discusses a case in it, and the spread limits of both kinds.
        self.case_author: list[list[bool]] = []
        self.limits: list[tuple[int, int, int, int]] = []
        for number, round_number in self.slots:
            author = [False] * n
            for member, its_round in self.cases[number].items():
                author[index[member]] = its_round == round_number
            self.case_author.append(author)
            tables = self.shapes[number].tables
            facilitators = sum(self.facilitator[number])
            self.limits.append(
                spread_limits(facilitators, tables) + spread_limits(sum(author), tables)
            )
        self.together = [0] * (n * n)  # seatings of each pair, both ways round

    def _apart(self, event: Instance) -> list[frozenset[int]]:
        """Per person, the people of ``event`` they may not share a table with."""
        apart: list[set[int]] = [set() for _ in range(self.n)]
        keys = company_keys(event.attendees)
        by_company: dict[str, list[int]] = {}
        for member, key in keys.items():
            by_company.setdefault(key, []).append(self.index[member])
        pairs = [
            (a, b)
            for group in by_company.values()
            for i, a in enumerate(group)
            for b in group[i + 1 :]
        ]
        present = {p.id for p in event.attendees}
        pairs += [
            (self.index[a], self.index[b])
            for a, b in event.keep_apart
            if a != b and a in present and b in present
        ]
        for a, b in pairs:
            apart[a].add(b)
            apart[b].add(a)
        return [frozenset(group) for group in apart]

    # -- counting ----------------------------------------------------------------------------

    def count(self, plan: Sequence[Tables]) -> int:
        """Set the pair counts to ``plan`` (every round of the season) and return its
        repeated pairs: every seating of a pair beyond its first."""
        n = self.n
        together = self.together = [0] * (n * n)
        for tables in plan:
            for members in tables:
                for i, a in enumerate(members):
                    for b in members[i + 1 :]:
                        together[a * n + b] += 1
                        together[b * n + a] += 1
        return sum(c - 1 for c in together if c > 1) // 2

    def named(self, plan: Sequence[Tables]) -> list[Plan]:
        """``plan`` (every round of the season) as each event's rounds of ids."""
        plans: list[Plan] = [[] for _ in self.events]
        for (number, _), tables in zip(self.slots, plan, strict=True):
            plans[number].append([[self.ids[m] for m in members] for members in tables])
        return plans

    # -- the start ---------------------------------------------------------------------------

    def start(self, rng: random.Random) -> list[Tables]:
        """Every round in season order, each filled greedily against the rounds before it."""
        plan: list[Tables] = []
        self.together = [0] * (self.n * self.n)
        for slot in range(len(self.slots)):
            tables = None
            for _ in range(GREEDY_TRIES):
                tables = self._greedy_round(slot, rng)
                if tables is not None:
                    break
            if tables is None:
                tables = self._random_round(slot, rng)
            plan.append(tables)
            self.count(plan)
        return plan

    def _greedy_round(self, slot: int, rng: random.Random) -> Tables | None:
        """Each person, the most constrained first, at a valid table where they repeat the
        fewest pairs so far; None when someone finds no valid table."""
        number, _ = self.slots[slot]
        shape = self.shapes[number]
        facilitator, author = self.facilitator[number], self.case_author[slot]
        pinned, apart = self.pinned[number], self.apart[number]
        fac_low, fac_high, case_low, case_high = self.limits[slot]
        order = list(self.people[number])
        rng.shuffle(order)
        # Pins, facilitators and case authors first, else the last tables may find none left.
        order.sort(key=lambda m: (pinned[m] < 0, not facilitator[m], not author[m]))
        tables: Tables = [[] for _ in range(shape.tables)]
        facilitators = [0] * shape.tables
        authors = [0] * shape.tables
        larger = 0
        row = self.n
        for person in order:
            options = [
                t
                for t, members in enumerate(tables)
                if (
                    len(members) < shape.base
                    or (len(members) == shape.base and larger < shape.larger)
                )
                and pinned[person] in (-1, t)
                and not any(m in apart[person] for m in members)
                and not (facilitator[person] and facilitators[t] >= fac_high)
                and not (author[person] and authors[t] >= case_high)
            ]
            # Tables that still need a facilitator or a case take them first.
            if facilitator[person] and fac_low:
                options = [t for t in options if not facilitators[t]] or options
            if author[person] and case_low:
                options = [t for t in options if not authors[t]] or options
            if not options:
                return None
            repeats = [sum(self.together[person * row + m] > 0 for m in tables[t]) for t in options]
            fewest = min(repeats)
            chosen = rng.choice([t for t, r in zip(options, repeats, strict=True) if r == fewest])
            tables[chosen].append(person)
            larger += len(tables[chosen]) == shape.base + 1
            facilitators[chosen] += facilitator[person]
            authors[chosen] += author[person]
        if any(f < fac_low for f in facilitators) or any(c < case_low for c in authors):
            return None
        return tables

    def _random_round(self, slot: int, rng: random.Random) -> Tables:
        """The random baseline of ``bench.seating`` (with its restarts), when greedy fails."""
        number, round_number = self.slots[slot]
        event = self.events[number]
        one = round_instance(event, round_number, self.cases[number])
        return [[self.index[m] for m in members] for members in random_plan(one, rng)]

    # -- the search --------------------------------------------------------------------------

    def anneal(
        self,
        plan: list[Tables],
        rng: random.Random,
        moves: int,
        hot: float = HOT,
        cold: float = COLD,
        deadline: float = math.inf,
        clock: Callable[[], float] = time.process_time,
    ) -> Result:
        """Simulated annealing over every round of the season at once, from ``plan`` (left
        as it ends); the best plans seen."""
        started = clock()
        n = self.n
        total = start_total = self.count(plan)
        together = self.together
        where = [[-1] * n for _ in plan]
        facilitators: list[list[int]] = []
        authors: list[list[int]] = []
        for slot, tables in enumerate(plan):
            number, _ = self.slots[slot]
            for t, members in enumerate(tables):
                for m in members:
                    where[slot][m] = t
            facilitators.append([sum(self.facilitator[number][m] for m in t) for t in tables])
            authors.append([sum(self.case_author[slot][m] for m in t) for t in tables])
        # Every seat whose person may move, drawn uniformly: each round in proportion to
        # its people.
        seats = [
            (slot, m)
            for slot, (number, _) in enumerate(self.slots)
            for m in self.people[number]
            if self.pinned[number][m] < 0
        ]
        event_of = [number for number, _ in self.slots]
        sizes_vary = [self.shapes[number].larger > 0 for number in event_of]
        best_total, best = total, [[list(t) for t in rows] for rows in plan]
        checkpoints: list[Checkpoint] = []
        marks = [max(1, round(share * moves)) for share in CHECKPOINTS]
        # A move changes at most the pairs of both its people at the larger table.
        most = 2 * max((shape.largest for shape in self.shapes), default=0)
        accepted = 0
        done = 0
        out_of_time = False
        while done < moves and seats:
            if clock() > deadline:
                out_of_time = True
                break
            # The chance to accept a move that adds d repeats, at this chunk's temperature.
            temperature = hot * (cold / hot) ** (done / moves)
            accept = [math.exp(-d / temperature) for d in range(most + 1)]
            # Chunks end at the checkpoints, so each reports the best at its very move.
            chunk_end = min(moves, done + CHUNK, next(m for m in marks if m > done))
            for _ in range(chunk_end - done):
                slot, a = seats[rng.randrange(len(seats))]
                tables, place = plan[slot], where[slot]
                count = len(tables)
                if count < 2:
                    continue
                source = place[a]
                target = rng.randrange(count - 1)
                if target >= source:
                    target += 1
                from_members, to_members = tables[source], tables[target]
                number = event_of[slot]
                if (
                    sizes_vary[slot]
                    and len(from_members) > len(to_members)
                    and rng.random() < MOVE_SHARE
                ):
                    b = -1
                else:
                    b = to_members[rng.randrange(len(to_members))]
                    if self.pinned[number][b] >= 0:
                        continue
                if not self._keeps_rules(slot, a, b, source, target, plan, facilitators, authors):
                    continue
                # What the move changes: a leaves its table for the other, b (if any) the
                # other way. A pair's seating beyond its first is a repeat; together[x, x]
                # is 0, so nobody is counted with themselves.
                row_a = a * n
                delta = sum(together[row_a + x] > 0 for x in to_members if x != b) - sum(
                    together[row_a + x] > 1 for x in from_members
                )
                if b >= 0:
                    row_b = b * n
                    delta += sum(together[row_b + x] > 0 for x in from_members if x != a) - sum(
                        together[row_b + x] > 1 for x in to_members
                    )
                if delta > 0 and rng.random() >= accept[delta]:
                    continue
                self._apply(slot, a, b, source, target, plan, where, facilitators, authors)
                accepted += 1
                total += delta
                if total < best_total:
                    best_total, best = total, [[list(t) for t in rows] for rows in plan]
            done = chunk_end
            while len(checkpoints) < len(marks) and marks[len(checkpoints)] <= done:
                share = CHECKPOINTS[len(checkpoints)]
                checkpoints.append(Checkpoint(share, done, clock() - started, best_total))
        return Result(
            plans=self.named(best),
            total=best_total,
            start_total=start_total,
            moves=done,
            accepted=accepted,
            cpu_s=clock() - started,
            checkpoints=tuple(checkpoints),
            out_of_time=out_of_time,
        )

    def _keeps_rules(
        self,
        slot: int,
        a: int,
        b: int,
        source: int,
        target: int,
        plan: Sequence[Tables],
        facilitators: Sequence[list[int]],
        authors: Sequence[list[int]],
    ) -> bool:
        """Whether a to ``target`` (and b, if any, to ``source``) keeps every hard rule."""
        number = self.slots[slot][0]
        tables = plan[slot]
        apart = self.apart[number]
        if apart[a] and any(x in apart[a] and x != b for x in tables[target]):
            return False
        if b >= 0 and apart[b] and any(x in apart[b] and x != a for x in tables[source]):
            return False
        fac_low, fac_high, case_low, case_high = self.limits[slot]
        for kind, counts, low, high in (
            (self.facilitator[number], facilitators[slot], fac_low, fac_high),
            (self.case_author[slot], authors[slot], case_low, case_high),
        ):
            shift = kind[a] - (kind[b] if b >= 0 else False)  # leaves source, joins target
            if shift and not (
                low <= counts[source] - shift <= high and low <= counts[target] + shift <= high
            ):
                return False
        return True

    def _apply(
        self,
        slot: int,
        a: int,
        b: int,
        source: int,
        target: int,
        plan: list[Tables],
        where: list[list[int]],
        facilitators: list[list[int]],
        authors: list[list[int]],
    ) -> None:
        from_members, to_members = plan[slot][source], plan[slot][target]
        count_move(self.together, self.n, a, from_members, to_members, b)
        if b >= 0:
            from_members[from_members.index(a)] = b
            to_members[to_members.index(b)] = a
            where[slot][b] = source
        else:
            from_members.remove(a)
            to_members.append(a)
        where[slot][a] = target
        number = self.slots[slot][0]
        for kind, counts in (
            (self.facilitator[number], facilitators[slot]),
            (self.case_author[slot], authors[slot]),
        ):
            shift = kind[a] - (kind[b] if b >= 0 else False)
            counts[source] -= shift
            counts[target] += shift


def hindsight(
    events: Sequence[Instance],
    seed: int,
    moves: int,
    hot: float = HOT,
    cold: float = COLD,
    deadline: float = math.inf,
) -> Result:
    """The season's plans in hindsight: a greedy start, then ``moves`` of annealing; the
    same seed and moves give the same plans."""
    season = Season(events)
    rng = random.Random(seed)
    return season.anneal(season.start(rng), rng, moves, hot, cold, deadline)


def moves_per_second(events: Sequence[Instance], seed: int, hot: float, cold: float) -> float:
    """A throwaway run's moves per CPU second (start excluded), to turn a budget into moves."""
    season = Season(events)
    rng = random.Random(seed)
    plan = season.start(rng)
    result = season.anneal(plan, rng, CALIBRATION_MOVES, hot, cold)
    # From the first checkpoint on: the first moves, with more of them accepted and
    # more new bests to copy, run slower than the long run's bulk.
    first = result.checkpoints[0]
    return (result.moves - first.moves) / max(result.cpu_s - first.cpu_s, 1e-9)


def season_repeats(events: Sequence[Instance], plans: Sequence[Plan]) -> int:
    """The season's repeated pairs, counted from scratch: each pair's seatings beyond the first."""
    seatings: Counter[frozenset[str]] = Counter()
    for plan in plans:
        for tables in plan:
            for members in tables:
                for i, a in enumerate(members):
                    for b in members[i + 1 :]:
                        seatings[frozenset((a, b))] += 1
    return sum(c - 1 for c in seatings.values())


def repeats_event_after_event(events: Sequence[Instance], plans: Sequence[Plan]) -> list[int]:
    """Each event's repeated pairs as ``evaluate_rounds`` counts them, against the history of
    the events before it, as ``season_rounds`` builds it."""
    met: dict[frozenset[str], Meeting] = {}
    repeats = []
    day = date(2026, 1, 20)
    for event, plan in zip(events, plans, strict=True):
        seen = replace(event, history=tuple(met.values()), reference_date=day)
        repeats.append(evaluate_rounds(seen, plan, cases=case_rounds(event))[2].repeated_pairs)
        for tables in plan:
            remember(met, tables, day)
        day += timedelta(days=28)
    return repeats


def broken_rules(events: Sequence[Instance], plans: Sequence[Plan]) -> int:
    return sum(
        len(round_violations(event, plan, case_rounds(event)))
        for event, plan in zip(events, plans, strict=True)
    )


def run(
    rounds: int, seconds: float, seed: int, relaxed: bool, moves: int | None, write: bool
) -> str:
    events = season_instances(rounds, relaxed)
    ruled = season_instances(rounds)
    bound = season_lower_bound(events)
    calibration = ""
    deadline = math.inf
    if moves is None:
        rate = moves_per_second(events, seed, HOT, COLD)
        moves = max(CHUNK, round(rate * seconds))
        calibration = f"; {seconds:g} s at {rate:,.0f} moves per CPU second measured first"
        # A safety stop well past the budget: a run it cuts short is not reproducible.
        deadline = time.process_time() + 2 * seconds + 60
    result = hindsight(events, seed, moves, deadline=deadline)
    recount = season_repeats(events, result.plans)
    per_event = repeats_event_after_event(events, result.plans)
    broken = broken_rules(events, result.plans)
    if recount != result.total or sum(per_event) != result.total or broken:
        raise AssertionError(
            f"verification failed: annealer {result.total}, recount {recount}, "
            f"event after event {sum(per_event)}, broken rules {broken}"
        )
    section = render(rounds, relaxed, seed, bound, result, per_event, calibration, events, ruled)
    if write:
        report.write(section, marker="season-hindsight")
    return section


def render(
    rounds: int,
    relaxed: bool,
    seed: int,
    bound: int,
    result: Result,
    per_event: Sequence[int],
    calibration: str,
    events: Sequence[Instance],
    ruled: Sequence[Instance],
) -> str:
    flags = f"--rounds {rounds} --seed {seed}" + (" --relaxed" if relaxed else "")
    rules = "table sizes only (relaxed)" if relaxed else "every hard rule"
    lines = [
        f"## Seating: the season of {rounds} round{'s' * (rounds != 1)} per event in hindsight\n",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs "
        f"({report.cpu_model()}), Python {platform.python_version()}, with "
        f"`.venv/bin/python -m bench.season_hindsight {flags} --moves {result.moves}` "
        f"(one core, CPU time{calibration}). The season of the table above (ten events of "
        "60 to 80 of 150 members, tables of 8), every event's attendees known in advance, "
        f"all rounds of all events annealed at once ({HOT} to {COLD} repeats) keeping "
        f"{rules}. The online planner's figure is the season-aware solver's in the table "
        "above (not run again here).\n",
        "| Rounds per event | Rules | Bound | Start (greedy) | Hindsight | CPU s | Moves | "
        "Accepted |",
        "|---|---|---|---|---|---|---|---|",
        f"| {rounds} | {'relaxed' if relaxed else 'kept'} | {bound} | {result.start_total} | "
        f"{result.total} | {result.cpu_s:.1f} | {result.moves:,} | {result.accepted:,} |",
        "",
        "Best so far: "
        + ", ".join(
            f"{c.share:.0%} of the moves ({c.cpu_s:.0f} s) {c.best}" for c in result.checkpoints
        )
        + ".",
        "",
        f"Per event (evaluate_rounds against the events before it): "
        f"{', '.join(map(str, per_event))}.",
        "",
        "Checked: every event's plan keeps "
        + ("the table sizes" if relaxed else "every hard rule")
        + " (`round_violations`: none), and the repeats recounted from scratch and event "
        "after event equal the annealer's own count.",
    ]
    if relaxed:
        broken = broken_rules(ruled, result.plans)
        lines[-1] += f" Against the real rules these plans break {broken}."
        lines[-1] += f" The bound with the rules is {season_lower_bound(ruled)}."
    if result.out_of_time:
        lines.append("\nThe safety deadline stopped the run before its moves: not reproducible.")
    lines.append("")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds per event")
    parser.add_argument("--seconds", type=float, default=60.0, help="CPU budget of the search")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--relaxed", action="store_true", help="keep only the table sizes")
    parser.add_argument("--moves", type=int, help="the search length (overrides --seconds)")
    parser.add_argument("--no-write", action="store_true", help="print, do not touch README")
    args = parser.parse_args()
    print(run(args.rounds, args.seconds, args.seed, args.relaxed, args.moves, not args.no_write))


if __name__ == "__main__":
    main()
