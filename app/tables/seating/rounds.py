"""Rounds: one event seats everyone several times, and the rounds are planned together.

The hard rules hold in every round (a case counts in the round it is discussed in); across
rounds the goal is that two people sit together as seldom as possible, at this event and
counting the earlier ones. The search starts from a resolvable design when the sizes allow
one (``designs.py``), else from a greedy seating round after round, and then improves all
rounds at once by swaps, with the cost of a pair growing with each meeting (Good-Enough
Golfers' objective: one pair meeting three times is worse than three pairs meeting twice).
"""

import math
import random
from collections import Counter
from collections.abc import Callable, Mapping, MutableSequence, Sequence
from dataclasses import replace

from app.tables.seating.designs import affine_plane_fits, affine_plane_rounds
from app.tables.seating.model import Instance, Meeting, Metrics, TablePlan, Violation
from app.tables.seating.rules import Layout, company_keys, layout, violations
from app.tables.seating.scoring import (
    SEASON_SEARCH,
    Costs,
    evaluate,
    search_weight,
    season_aware,
)
from app.tables.seating.search import HARD, Seating

MAX_ROUNDS = 12
# Moves when the caller sets no length: per attendee and round, within bounds.
MOVES_PER_SEAT = 800
MIN_MOVES = 20_000
MAX_MOVES = 1_500_000
# The search's starting temperature, in units of the repeat weight, grows with how scarce
# fresh partners are: where most pairs must meet (64 people over 9 rounds) it is warm enough
# to leave a local optimum by a repeat or two; where pairs are plentiful (2,000 people) heat
# would only trade functions and seniority away from the greedy start (bench/README.md).
HOT_PLENTY = 0.05
HOT_SCARCE = 0.6
COLD = 0.005
# The share of swaps made with someone alike (same seniority, or same function).
ALIKE_SHARE = 0.5


def case_rounds(instance: Instance) -> dict[str, int]:
    """The round each case is discussed in: the one its author asked for, else spread so
    that every round has as few cases as possible (authors taken in id order)."""
    count = max(1, instance.rounds)
    chosen: dict[str, int] = {}
    per_round: Counter[int] = Counter()
    for person in instance.attendees:
        if person.has_case and person.case_round is not None and 1 <= person.case_round <= count:
            chosen[person.id] = person.case_round
            per_round[person.case_round] += 1
    for person in sorted(instance.attendees, key=lambda p: p.id):
        if person.has_case and person.id not in chosen:
            number = min(range(1, count + 1), key=lambda r: (per_round[r], r))
            chosen[person.id] = number
            per_round[number] += 1
    return chosen


def round_instance(instance: Instance, number: int, cases: Mapping[str, int]) -> Instance:
    """The instance of one round: only the cases discussed in it have to be spread."""
    return replace(
        instance,
        rounds=1,
        attendees=tuple(replace(p, has_case=cases.get(p.id) == number) for p in instance.attendees),
    )


def round_violations(
    instance: Instance,
    plan: Sequence[Sequence[Sequence[str]]],
    cases: Mapping[str, int] | None = None,
) -> list[tuple[int, Violation]]:
    """Every hard rule ``plan`` breaks, with the round (1-based) it breaks it in."""
    if len(plan) != instance.rounds:
        expected = f"the plan has {len(plan)} rounds, {instance.rounds} expected"
        return [(0, Violation("rounds", (), expected))]
    cases = case_rounds(instance) if cases is None else cases
    found = [
        (number, violation)
        for number, tables in enumerate(plan, start=1)
        for violation in violations(round_instance(instance, number, cases), tables)
    ]
    if instance.facilitators_stay:
        for person in instance.attendees:
            if not person.facilitator:
                continue
            seats = [
                next((t for t, members in enumerate(tables, 1) if person.id in members), None)
                for tables in plan
            ]
            for number, seat in enumerate(seats[1:], start=2):
                if seat != seats[0]:
                    found.append(
                        (
                            number,
                            Violation(
                                "facilitator_stays",
                                (person.id,),
                                f"the facilitator sits at table {seats[0]} in round 1 and at "
                                f"table {seat} in round {number}",
                            ),
                        )
                    )
    return found


def never_together(instance: Instance) -> set[frozenset[str]]:
    """The pairs of attendees no plan of ``instance`` seats at one table in any round:
    colleagues, pairs kept apart, and two facilitators when no table may hold two."""
    present = {p.id for p in instance.attendees}
    apart: set[frozenset[str]] = set()
    by_company: dict[str, list[str]] = {}
    for member, key in company_keys(instance.attendees).items():
        by_company.setdefault(key, []).append(member)
    for colleagues in by_company.values():
        apart.update(
            frozenset((a, b)) for i, a in enumerate(colleagues) for b in colleagues[i + 1 :]
        )
    facilitators = [p.id for p in instance.attendees if p.facilitator]
    # As many facilitators as tables, or fewer: no table may have two of them.
    if len(facilitators) <= layout(instance).tables:
        apart.update(
            frozenset((a, b)) for i, a in enumerate(facilitators) for b in facilitators[i + 1 :]
        )
    for a, b in instance.keep_apart:
        if a != b and a in present and b in present:
            apart.add(frozenset((a, b)))
    return apart


def repeat_lower_bound(instance: Instance) -> int:
    """The fewest repeated pairs any plan of ``instance`` can have, by counting.

    A seat next to someone is fresh only once per pair, and never for pairs that cannot sit
    together (colleagues, pairs kept apart, two facilitators when each table has at most one)
    or that met already (history). Two counts, the larger wins: all seats-next-to against all
    fresh pairs, and each person's seats-next-to against their own fresh partners (each
    repeat counted by both of its people, hence the half).
    """
    people = [p.id for p in instance.attendees]
    n = len(people)
    if n < 2:
        return 0
    shape = layout(instance)
    sizes = [shape.base + 1] * shape.larger + [shape.base] * (shape.tables - shape.larger)
    rounds = max(1, instance.rounds)
    seats_next_to = rounds * sum(s * (s - 1) // 2 for s in sizes)
    present = set(people)
    stale = never_together(instance)
    for meeting in instance.history:
        if meeting.a != meeting.b and meeting.a in present and meeting.b in present:
            stale.add(frozenset((meeting.a, meeting.b)))
    by_pairs = max(0, seats_next_to - (n * (n - 1) // 2 - len(stale)))
    blocked: Counter[str] = Counter()
    for pair in stale:
        for member in pair:
            blocked[member] += 1
    least_per_person = rounds * (shape.base - 1)
    excess = sum(max(0, least_per_person - (n - 1 - blocked[m])) for m in people)
    return max(by_pairs, math.ceil(excess / 2))


def _fewest_pairs_within(members: int, shape: Layout) -> int:
    """The fewest pairs ``members`` people of one group can form at these tables: spread as
    evenly as the tables allow (the even spread fits, since the larger tables take the rest)."""
    per_table, extra = divmod(members, shape.tables)
    return extra * (per_table + 1) * per_table // 2 + (shape.tables - extra) * (
        per_table * (per_table - 1) // 2
    )


def season_lower_bound(events: Sequence[Instance], history: Sequence[Meeting] = ()) -> int:
    """The fewest repeated pairs any plans of a season's ``events`` can have in total, in
    hindsight (knowing who comes to every event), counted as ``repeated_pairs`` counts them
    event after event: every seating of a pair beyond its first, and every seating of a pair
    in ``history`` (what came before the season; the events' own histories are ignored).

    Over the season the repeats are the seatings less the pairs that ever sit together
    fresh, and a pair can sit together fresh once at most, and only when both come to an
    event that lets them share a table. Three counts, the largest wins:

    - per group: the people who come most often, spread as evenly as possible at every
      event, still sit with each other so many times; less the pairs among them that could
      ever be fresh, that many of those seatings repeat (every group of the most frequent
      attendees is tried);
    - per person: seats next to someone at every event attended, against the partners
      they could ever meet fresh (each repeat counted by both of its people, hence the half;
      the seats of the larger tables go where fresh partners are left, as far as they are);
    - per event: what each event's own rounds must repeat among themselves.
    """
    if not events:
        return 0
    met_before = {frozenset((m.a, m.b)) for m in history if m.a != m.b}
    partners: dict[str, set[str]] = {}
    came: Counter[str] = Counter()
    least_seats: Counter[str] = Counter()
    seatings = 0
    within_events = 0
    shapes = []
    for event in events:
        shape = layout(event)
        rounds = max(1, event.rounds)
        shapes.append((event, shape, rounds))
        people = [p.id for p in event.attendees]
        apart = never_together(event)
        for i, a in enumerate(people):
            came[a] += 1
            least_seats[a] += rounds * (shape.base - 1)
            for b in people[i + 1 :]:
                pair = frozenset((a, b))
                if pair not in apart and pair not in met_before:
                    partners.setdefault(a, set()).add(b)
                    partners.setdefault(b, set()).add(a)
        sizes = [shape.base + 1] * shape.larger + [shape.base] * (shape.tables - shape.larger)
        seatings += rounds * sum(s * (s - 1) // 2 for s in sizes)
        within_events += repeat_lower_bound(replace(event, history=()))
    # Per group: the most frequent attendees first, one more at a time.
    order = sorted(came, key=lambda m: (-came[m], m))
    group: set[str] = set()
    in_group: Counter[int] = Counter()  # per event: how many of the group come
    fresh_within = 0
    by_groups = 0
    attends = [{p.id for p in event.attendees} for event, _, _ in shapes]
    for member in order:
        fresh_within += len(partners.get(member, set()) & group)
        group.add(member)
        for number, present in enumerate(attends):
            if member in present:
                in_group[number] += 1
        forced = sum(
            rounds * _fewest_pairs_within(in_group[number], shape)
            for number, (_, shape, rounds) in enumerate(shapes)
        )
        by_groups = max(by_groups, forced - fresh_within)
    # Per person.
    over = sum(max(0, least_seats[m] - len(partners.get(m, ()))) for m in came)
    room = sum(max(0, len(partners.get(m, ())) - least_seats[m]) for m in came)
    extra_seats = 2 * seatings - sum(least_seats.values())
    by_people = math.ceil((over + max(0, extra_seats - room)) / 2)
    return max(by_groups, by_people, within_events)


def repeated_pairs(instance: Instance, plan: Sequence[Sequence[Sequence[str]]]) -> int:
    """Seatings of two people who met before: at an earlier event or an earlier round."""
    met = {frozenset((m.a, m.b)) for m in instance.history if m.a != m.b}
    repeats = 0
    for tables in plan:
        this_round = []
        for members in tables:
            for i, a in enumerate(members):
                for b in members[i + 1 :]:
                    pair = frozenset((a, b))
                    repeats += pair in met
                    this_round.append(pair)
        met.update(this_round)
    return repeats


def _with_rounds_as_history(
    instance: Instance, earlier: Sequence[Sequence[Sequence[str]]]
) -> Instance:
    """``instance`` whose history also holds the meetings of the ``earlier`` rounds."""
    meetings = [
        Meeting(a, b, 1, instance.reference_date)
        for tables in earlier
        for members in tables
        for i, a in enumerate(members)
        for b in members[i + 1 :]
    ]
    return replace(instance, history=instance.history + tuple(meetings))


class RoundsSearch:
    """All rounds on integer indexes: the tables of each round, and how often each pair sits
    together over the plan, so a swap's cost is found from the two tables it touches."""

    def __init__(self, instance: Instance, shape: Layout, cases: Mapping[str, int]) -> None:
        self.instance = instance
        self.shape = shape
        self.rounds = instance.rounds
        people = instance.attendees
        self.ids = [p.id for p in people]
        self.n = len(people)
        index = {p.id: i for i, p in enumerate(people)}
        # Each round's table costs without pair history: the pairs are costed below, over
        # the whole plan.
        plain = replace(
            instance, history=(), weights=replace(instance.weights, season=0.0), rounds=1
        )
        self.seatings = [
            Seating(round_instance(plain, number, cases), shape)
            for number in range(1, self.rounds + 1)
        ]
        self.history: list[dict[int, float]] = [{} for _ in people]
        season = season_aware(instance)
        for pair, weight in Costs(instance).pair_weight.items():
            weight = search_weight(weight, season)
            first, second = (index[m] for m in pair)
            self.history[first][second] = weight
            self.history[second][first] = weight
        self.attendance = [p.attendance for p in people]
        self.w_repeat = instance.weights.repeat_pairs
        self.w_season = instance.weights.season
        self.facilitator = [p.facilitator for p in people]
        self.pin = [p.pinned_table - 1 if p.pinned_table is not None else -1 for p in people]
        self.together = bytearray(self.n * self.n)  # times each pair shares a table

    # -- the cost of pairs -------------------------------------------------------------------

    def meeting_cost(self, a: int, b: int, meeting: int) -> float:
        """What the ``meeting``-th time a and b sit together in this plan costs."""
        earlier = self.history[a].get(b)
        if earlier is not None:
            return self.w_repeat * (earlier + meeting - 1)
        if meeting == 1:
            return self.w_season * self.attendance[a] * self.attendance[b]
        return self.w_repeat * (meeting - 1)

    def leave_cost(self, a: int, members: Sequence[int], skip: int) -> float:
        """The change in pair cost when ``a`` stops sitting with ``members`` (but ``skip``)."""
        row = self.n * a
        together = self.together
        return -sum(
            self.meeting_cost(a, x, together[row + x]) for x in members if x != a and x != skip
        )

    def join_cost(self, a: int, members: Sequence[int], skip: int) -> float:
        row = self.n * a
        together = self.together
        return sum(
            self.meeting_cost(a, x, together[row + x] + 1) for x in members if x != a and x != skip
        )

    def _count(self, members: Sequence[int], step: int) -> None:
        n, together = self.n, self.together
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                together[a * n + b] += step
                together[b * n + a] += step

    # -- starts ------------------------------------------------------------------------------

    def design_start(self) -> list[list[list[int]]] | None:
        """The rounds of the affine plane when the sizes fit, people laid on its points so
        that colleagues share a vertical line (they meet only in the vertical round) and
        facilitators lie on different verticals; the rounds that break the fewest rules
        first."""
        q = self.shape.tables
        if self.shape.larger or not affine_plane_fits(self.n, q, self.instance.table_size):
            return None
        keys = company_keys(self.instance.attendees)
        groups: dict[str, list[int]] = {}
        for i, member in enumerate(self.ids):
            groups.setdefault(keys.get(member, f"\0{member}"), []).append(i)
        # Fill the verticals column by column, the largest companies first, facilitators at
        # the top of their column; a company larger than a column spills into the next one.
        order = [
            i
            for group in sorted(groups.values(), key=lambda g: (-len(g), g[0]))
            for i in sorted(group, key=lambda i: not self.facilitator[i])
        ]
        person_at = order  # point x * q + y holds order[x * q + y]
        classes = affine_plane_rounds(q)
        rounds = [[[person_at[p] for p in line] for line in lines] for lines in classes]

        def broken(number: int, tables: list[list[int]]) -> float:
            seating = self.seatings[min(number, self.rounds - 1)]
            return sum(seating.cost(t) // HARD for t in tables)

        rounds.sort(key=lambda tables: broken(0, tables))
        return rounds[: self.rounds] if self.rounds <= len(rounds) else None

    def greedy_start(self, rng: random.Random) -> list[list[list[int]]]:
        """Round after round, today's greedy seating against the rounds before it."""
        plan: list[list[list[int]]] = []
        for number in range(self.rounds):
            named = [[[self.ids[i] for i in t] for t in tables] for tables in plan]
            seating = Seating(
                _with_rounds_as_history(self._round_instance(number), named), self.shape
            )
            seating.pin = self._fixed(number, plan)
            plan.append(seating.start(rng))
        return plan

    def _round_instance(self, number: int) -> Instance:
        return replace(
            self.instance,
            rounds=1,
            attendees=tuple(
                replace(p, has_case=bool(self.seatings[number].case[i]))
                for i, p in enumerate(self.instance.attendees)
            ),
        )

    def _fixed(self, number: int, plan: Sequence[Sequence[Sequence[int]]]) -> list[int]:
        """Per person, the table they must sit at in round ``number`` (-1: any): their pin,
        or a staying facilitator's table of the first round."""
        fixed = list(self.pin)
        if self.instance.facilitators_stay and plan:
            for t, members in enumerate(plan[0]):
                for m in members:
                    if self.facilitator[m]:
                        fixed[m] = t
        return fixed

    def place_fixed(self, plan: list[list[list[int]]]) -> None:
        """Seat every pinned person (and staying facilitator) at their table by a swap with
        someone free to move: the local repair of a start that knows no pins."""
        if self.instance.facilitators_stay:
            self._align_facilitators(plan)
        for number, tables in enumerate(plan):
            fixed = self._fixed(number, plan)
            for person, target in enumerate(fixed):
                if target < 0:
                    continue
                source = next(t for t, members in enumerate(tables) if person in members)
                if source == target:
                    continue
                other = next((m for m in tables[target] if fixed[m] != target), None)
                if other is None:
                    continue  # the table is full of people fixed there: the search says so
                tables[source] = [other if m == person else m for m in tables[source]]
                tables[target] = [person if m == other else m for m in tables[target]]

    def _align_facilitators(self, plan: list[list[list[int]]]) -> None:
        """Renumber each later round's tables (free when nobody is pinned) so that as many
        facilitators as possible find the table they had in the first round."""
        if any(p >= 0 for p in self.pin):
            return
        home = {m: t for t, members in enumerate(plan[0]) for m in members if self.facilitator[m]}
        for number in range(1, len(plan)):
            tables = plan[number]
            free_numbers = list(range(len(tables)))
            renumbered: list[list[int] | None] = [None] * len(tables)
            leftovers = []
            for members in tables:
                wanted = [home[m] for m in members if m in home]
                target = next((t for t in wanted if t in free_numbers), None)
                if target is None:
                    leftovers.append(members)
                else:
                    free_numbers.remove(target)
                    renumbered[target] = members
            for members, target in zip(leftovers, free_numbers, strict=True):
                renumbered[target] = members
            plan[number] = [m for m in renumbered if m is not None]

    # -- the search --------------------------------------------------------------------------

    def improve(
        self,
        plan: list[list[list[int]]],
        rng: random.Random,
        moves: int,
        deadline: float,
        clock: Callable[[], float],
    ) -> tuple[list[list[list[int]]], int, bool]:
        """Simulated annealing over all rounds at once; the best plan seen, moves made, and
        whether the time ran out."""
        count = self.shape.tables
        self.together = bytearray(self.n * self.n)
        for tables in plan:
            for members in tables:
                self._count(members, 1)
        fixed = [self._fixed(number, plan) for number in range(self.rounds)]
        movable = [[i for i in range(self.n) if f[i] < 0] for f in fixed]
        choices = [number for number in range(self.rounds) if movable[number]]
        if count < 2 or not choices:
            return plan, 0, False
        where = [[0] * self.n for _ in plan]
        for number, tables in enumerate(plan):
            for t, members in enumerate(tables):
                for m in members:
                    where[number][m] = t
        table_costs = [
            [self.seatings[number].cost(members) for members in tables]
            for number, tables in enumerate(plan)
        ]
        total = sum(map(sum, table_costs)) + self._pair_total()
        best_total, best = total, [[list(m) for m in tables] for tables in plan]
        scale = max(self.w_repeat, 1e-9)
        hot = (HOT_PLENTY + (HOT_SCARCE - HOT_PLENTY) * self.scarcity()) * scale
        cold = COLD * scale
        sizes_vary = self.shape.larger > 0
        # Swaps with someone of the same seniority (the tables keep their levels) or the same
        # function (they keep their functions) change the pairs without trading one goal
        # against another, as in the single-round search.
        first = self.seatings[0]
        by_level: dict[int | None, list[int]] = {}
        by_function: dict[int, list[int]] = {}
        for person in range(self.n):
            by_level.setdefault(first.seniority[person], []).append(person)
            if first.function[person] >= 0:
                by_function.setdefault(first.function[person], []).append(person)
        out_of_time = False
        done = 0
        for done in range(1, moves + 1):
            if done % 256 == 0:
                if clock() > deadline:
                    out_of_time = True
                    break
                if best_total <= 1e-9:
                    break  # nothing left to gain
            temperature = hot * (cold / hot) ** (done / moves)
            number = choices[rng.randrange(len(choices))]
            tables, seating, place = plan[number], self.seatings[number], where[number]
            free = movable[number]
            a = free[rng.randrange(len(free))]
            source = place[a]
            kind = rng.random()
            alike = (
                by_level.get(first.seniority[a])
                if kind < ALIKE_SHARE / 2
                else by_function.get(first.function[a])
                if kind < ALIKE_SHARE
                else None
            )
            b = -1
            if alike is not None and len(alike) > 1:
                b = alike[rng.randrange(len(alike))]
                target = place[b]
                if target == source or fixed[number][b] >= 0:
                    continue
            else:
                target = rng.randrange(count - 1)
                if target >= source:
                    target += 1
            from_members, to_members = tables[source], tables[target]
            if b >= 0:
                new_from = [b if m == a else m for m in from_members]
                new_to = [a if m == b else m for m in to_members]
            elif not (sizes_vary and len(from_members) > len(to_members) and rng.random() < 0.3):
                candidates = [m for m in to_members if fixed[number][m] < 0]
                if not candidates:
                    continue
                b = candidates[rng.randrange(len(candidates))]
                new_from = [b if m == a else m for m in from_members]
                new_to = [a if m == b else m for m in to_members]
            else:
                new_from = [m for m in from_members if m != a]
                new_to = to_members + [a]
            cost_from, cost_to = seating.cost(new_from), seating.cost(new_to)
            delta = cost_from + cost_to - table_costs[number][source] - table_costs[number][target]
            if delta >= HARD:
                continue
            delta += self.leave_cost(a, from_members, -1) + self.join_cost(a, to_members, b)
            if b >= 0:
                delta += self.leave_cost(b, to_members, -1) + self.join_cost(b, from_members, a)
            if delta > 0 and rng.random() >= math.exp(-delta / temperature):
                continue
            count_move(self.together, self.n, a, from_members, to_members, b)
            tables[source], tables[target] = new_from, new_to
            table_costs[number][source], table_costs[number][target] = cost_from, cost_to
            place[a] = target
            if b >= 0:
                place[b] = source
            total += delta
            if total < best_total - 1e-9:
                best_total, best = total, [[list(m) for m in t] for t in plan]
        return best, done, out_of_time

    def scarcity(self) -> float:
        """0 when everyone has far more fresh partners than seats next to someone in this
        plan, 1 when they have no more (or fewer)."""
        if self.n < 2:
            return 1.0
        seats_next_to = self.rounds * (self.shape.largest - 1)
        known = sum(len(h) for h in self.history) / self.n
        return min(1.0, (seats_next_to + known) / (self.n - 1))

    def _pair_total(self) -> float:
        n, together = self.n, self.together
        total = 0.0
        for a in range(n):
            row = a * n
            for b in range(a + 1, n):
                for meeting in range(1, together[row + b] + 1):
                    total += self.meeting_cost(a, b, meeting)
        return total

    def hard_violations(self, plan: Sequence[Sequence[Sequence[int]]]) -> int:
        return sum(
            self.seatings[number].violations(list(members))
            for number, tables in enumerate(plan)
            for members in tables
        )


def count_move(
    together: MutableSequence[int],
    n: int,
    a: int,
    source: Sequence[int],
    target: Sequence[int],
    b: int,
) -> None:
    """Update ``together`` (how often each pair of the ``n`` people sits together, as a flat
    n x n table) for ``a`` going from the table ``source`` to ``target`` and, when ``b`` is not
    -1, ``b`` going the other way; the tables are as they were before the move."""
    _reseat(together, n, a, source, target, b)
    if b >= 0:
        _reseat(together, n, b, target, source, a)


def _reseat(
    together: MutableSequence[int],
    n: int,
    person: int,
    leaving: Sequence[int],
    joining: Sequence[int],
    partner: int,
) -> None:
    """``person`` leaves the table ``leaving`` and joins ``joining``, from which ``partner``
    (a swap's other person, or -1) leaves at the same time."""
    for x in leaving:
        if x != person:
            together[person * n + x] -= 1
            together[x * n + person] -= 1
    for x in joining:
        if x != partner:
            together[person * n + x] += 1
            together[x * n + person] += 1


def evaluate_rounds(
    instance: Instance,
    plan: Sequence[Sequence[Sequence[str]]],
    *,
    cases: Mapping[str, int] | None = None,
    moves: int = 0,
    time_s: float = 0.0,
    stopped_by: str = "moves",
    names: Mapping[str, str] | None = None,
) -> tuple[tuple[tuple[TablePlan, ...], ...], tuple[Metrics, ...], Metrics]:
    """Each round's tables and metrics (a pair met in an earlier round is a repeat there,
    with its reason), and the metrics of the whole plan."""
    cases = case_rounds(instance) if cases is None else cases
    broken = round_violations(instance, plan, cases)
    rounds, per_round = [], []
    for number, tables in enumerate(plan, start=1):
        seen = _with_rounds_as_history(round_instance(instance, number, cases), plan[: number - 1])
        table_plans, metrics = evaluate(
            seen,
            tables,
            hard_violations=sum(1 for r, _ in broken if r == number),
            names=names,
        )
        rounds.append(table_plans)
        per_round.append(metrics)
    total = Metrics(
        hard_violations=len(broken),
        repeated_pairs=sum(m.repeated_pairs for m in per_round),
        repeat_penalty=round(sum(m.repeat_penalty for m in per_round), 3),
        duplicate_function_pairs=sum(m.duplicate_function_pairs for m in per_round),
        seniority_range_mean=round(
            sum(m.seniority_range_mean for m in per_round) / len(per_round), 3
        )
        if per_round
        else 0.0,
        seniority_range_max=max((m.seniority_range_max for m in per_round), default=0),
        objective=round(sum(m.objective for m in per_round), 3),
        moves=moves,
        time_s=round(time_s, 3),
        stopped_by=stopped_by,
    )
    return tuple(rounds), tuple(per_round), total


def default_moves(instance: Instance) -> int:
    seats = len(instance.attendees) * max(1, instance.rounds)
    per_seat = MOVES_PER_SEAT * (SEASON_SEARCH if season_aware(instance) else 1)
    return instance.max_moves or min(MAX_MOVES, max(MIN_MOVES, round(per_seat * seats)))
