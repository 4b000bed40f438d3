"""Local search over seatings: a greedy start, then simulated annealing by swaps and moves.

Everything runs on integer indexes for speed; the cost of a table is recomputed from its eight
or so members, which is cheaper than keeping incremental counts right through every swap.
Hard rules are costs too (HARD each), so a start that breaks one is repaired by the same
search, and once a plan keeps them all no move that breaks one is ever taken.
"""

import math
import random
from collections.abc import Callable

from app.tables.seating.model import Instance
from app.tables.seating.rules import Layout, company_keys, spread_limits
from app.tables.seating.scoring import Costs, search_weight, season_aware

HARD = 1_000_000.0
# The starting temperature, in units of the largest weight: low, because the greedy start is
# already good and a hot search spends its moves undoing it (bench/README.md).
HOT = 0.02
# Free swaps and moves (which may trade one goal for another) stop at this share of the
# search; the rest polishes each goal with the others held fixed.
FREE_UNTIL = 0.5
# Moves when the caller sets no length: per attendee, within bounds. About 12 us a move: 66
# attendees settle in half a second, 2,000 in about five (figures in bench/README.md).
MOVES_PER_ATTENDEE = 600
MIN_MOVES = 20_000
MAX_MOVES = 400_000


class Seating:
    def __init__(self, instance: Instance, shape: Layout) -> None:
        people = instance.attendees
        self.shape = shape
        self.ids = [p.id for p in people]
        index = {p.id: i for i, p in enumerate(people)}
        keys = company_keys(people)
        company_ids: dict[str, int] = {}
        self.company = [
            company_ids.setdefault(keys[p.id], len(company_ids)) if p.id in keys else -1
            for p in people
        ]
        function_ids: dict[str, int] = {}
        self.function = [
            function_ids.setdefault(p.function, len(function_ids)) if p.function else -1
            for p in people
        ]
        self.seniority = [p.seniority for p in people]
        self.facilitator = [p.facilitator for p in people]
        self.case = [p.has_case for p in people]
        self.pin = [p.pinned_table - 1 if p.pinned_table is not None else -1 for p in people]
        self.apart: list[set[int]] = [set() for _ in people]
        for a, b in instance.keep_apart:
            if a in index and b in index and a != b:
                self.apart[index[a]].add(index[b])
                self.apart[index[b]].add(index[a])
        costs = Costs(instance)
        self.history: list[dict[int, float]] = [{} for _ in people]
        season = season_aware(instance)
        for pair, weight in costs.pair_weight.items():
            weight = search_weight(weight, season)
            first, second = (index[m] for m in pair)
            self.history[first][second] = weight
            self.history[second][first] = weight
        self.fac_limits = spread_limits(sum(self.facilitator), shape.tables)
        self.case_limits = spread_limits(sum(self.case), shape.tables)
        w = instance.weights
        self.w_repeat, self.w_function, self.w_seniority = (
            w.repeat_pairs,
            w.mixed_functions,
            w.seniority,
        )
        # Season-aware tie-break: first meetings of frequent attendees cost a little.
        self.attendance = [p.attendance for p in people]
        self.w_season = w.season if any(self.attendance) else 0.0

    def violations(self, members: list[int]) -> int:
        return int(self.cost(members) // HARD)

    def cost(self, members: list[int]) -> float:
        hard = 0
        penalty = 0.0
        season = 0.0
        duplicates = 0
        facilitators = cases = 0
        low = high = None
        company, function, history, apart = self.company, self.function, self.history, self.apart
        for i, a in enumerate(members):
            if self.facilitator[a]:
                facilitators += 1
            if self.case[a]:
                cases += 1
            level = self.seniority[a]
            if level is not None:
                if low is None or level < low:
                    low = level
                if high is None or level > high:
                    high = level
            ca, fa, ha, pa = company[a], function[a], history[a], apart[a]
            attends = self.attendance[a] if self.w_season else 0.0
            for b in members[i + 1 :]:
                w = ha.get(b) if ha else None
                if w is not None:
                    penalty += w
                elif attends:
                    season += attends * self.attendance[b]
                if ca >= 0 and ca == company[b]:
                    hard += 1
                if fa >= 0 and fa == function[b]:
                    duplicates += 1
                if pa and b in pa:
                    hard += 1
        f_low, f_high = self.fac_limits
        c_low, c_high = self.case_limits
        hard += max(0, f_low - facilitators) + max(0, facilitators - f_high)
        hard += max(0, c_low - cases) + max(0, cases - c_high)
        spread = (high - low) if low is not None and high is not None else 0
        return (
            HARD * hard
            + self.w_repeat * penalty
            + self.w_function * duplicates
            + self.w_seniority * spread
            + self.w_season * season
        )

    def start(self, rng: random.Random) -> list[list[int]]:
        """A greedy seating: pinned people first, then facilitators, case authors, the largest
        companies, everyone else; each at the open table where they add the least cost."""
        shape = self.shape
        tables: list[list[int]] = [[] for _ in range(shape.tables)]
        costs = [self.cost([]) for _ in range(shape.tables)]
        larger_used = 0
        colleagues: dict[int, int] = {}
        for c in self.company:
            if c >= 0:
                colleagues[c] = colleagues.get(c, 0) + 1
        order = list(range(len(self.ids)))
        rng.shuffle(order)
        order.sort(
            key=lambda i: (
                self.pin[i] < 0,
                not self.facilitator[i],
                not self.case[i],
                -colleagues.get(self.company[i], 0),
            )
        )
        for person in order:
            if self.pin[person] >= 0:
                choices = [self.pin[person]]
            else:
                choices = [
                    t
                    for t, members in enumerate(tables)
                    if len(members) < shape.base
                    or (len(members) == shape.base and larger_used < shape.larger)
                ]
            best, best_delta = choices[0], math.inf
            for t in choices:
                delta = self.cost(tables[t] + [person]) - costs[t]
                if delta < best_delta:
                    best, best_delta = t, delta
            tables[best].append(person)
            costs[best] += best_delta
            if len(tables[best]) == shape.base + 1:
                larger_used += 1
        return tables

    def anneal(
        self,
        tables: list[list[int]],
        rng: random.Random,
        moves: int,
        deadline: float,
        clock: Callable[[], float],
    ) -> tuple[list[list[int]], int, bool]:
        """Improve ``tables``; returns the best plan seen, moves made, whether time ran out."""
        count = len(tables)
        movable = [i for i in range(len(self.ids)) if self.pin[i] < 0]
        if count < 2 or len(movable) < 1:
            return tables, 0, False
        where = [0] * len(self.ids)
        for t, members in enumerate(tables):
            for m in members:
                where[m] = t
        costs = [self.cost(members) for members in tables]
        total = sum(costs)
        best_total, best = total, [list(m) for m in tables]
        w = max(self.w_repeat, self.w_function, self.w_seniority, 1e-9)
        hot, cold = HOT * w, 0.01 * w
        sizes_vary = self.shape.larger > 0
        by_level: dict[int | None, list[int]] = {}
        by_function: dict[int, list[int]] = {}
        for person in movable:
            by_level.setdefault(self.seniority[person], []).append(person)
            if self.function[person] >= 0:
                by_function.setdefault(self.function[person], []).append(person)
        out_of_time = False
        done = 0
        for done in range(1, moves + 1):
            if done % 256 == 0 and clock() > deadline:
                out_of_time = True
                break
            progress = done / moves
            temperature = hot * (cold / hot) ** progress
            a = movable[rng.randrange(len(movable))]
            source = where[a]
            # Most swaps are with someone of the same seniority (every table keeps its levels,
            # so only functions and pairs change) or the same function (only seniority
            # changes): each goal improves without trading against the other. The rest are
            # free swaps and moves, which can trade.
            kind = rng.random() * (1.0 if progress < FREE_UNTIL else 0.8)
            alike = (
                by_level.get(self.seniority[a])
                if kind < 0.4
                else by_function.get(self.function[a])
                if kind < 0.8
                else None
            )
            b = -1
            if alike is not None and len(alike) > 1:
                b = alike[rng.randrange(len(alike))]
                target = where[b]
                if target == source:
                    continue
            else:
                target = rng.randrange(count - 1)
                if target >= source:
                    target += 1
            from_members, to_members = tables[source], tables[target]
            if b < 0 and sizes_vary and len(from_members) > len(to_members) and rng.random() < 0.3:
                new_from = [m for m in from_members if m != a]
                new_to = to_members + [a]
            else:
                if b < 0:
                    candidates = [m for m in to_members if self.pin[m] < 0]
                    if not candidates:
                        continue
                    b = candidates[rng.randrange(len(candidates))]
                new_from = [b if m == a else m for m in from_members]
                new_to = [a if m == b else m for m in to_members]
            cost_from, cost_to = self.cost(new_from), self.cost(new_to)
            delta = cost_from + cost_to - costs[source] - costs[target]
            if delta > 0 and (delta >= HARD or rng.random() >= math.exp(-delta / temperature)):
                continue
            tables[source], tables[target] = new_from, new_to
            costs[source], costs[target] = cost_from, cost_to
            where[a] = target
            if b >= 0:
                where[b] = source
            total += delta
            if total < best_total - 1e-9:
                best_total, best = total, [list(m) for m in tables]
        return best, done, out_of_time
