"""The goals of seating as numbers: what a table costs, and why, in words an admin reads."""

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from app.tables.seating.model import Instance, Meeting, Metrics, Reason, TablePlan

# A meeting a year old weighs three quarters of one last week; one long ago, a half.
RECENCY_HALF_LIFE_DAYS = 365.0


# Season-aware plans (attendance known) count a repeat as one repeat, whoever repeats: how
# often and how recently the pair met only tells equal counts apart (a tenth of its weight
# beyond 1). Over a season the regulars must meet again and the count is what the season
# keeps; two repeats of pairs met once are worse than one of a pair met three times.
SEASON_HISTORY_SHARE = 0.1
# ... and they search twice as long, within the same time limit (bench/README.md).
SEASON_SEARCH = 2.0


def season_aware(instance: Instance) -> bool:
    """Whether the attendees say how often they come (the plan is one event of a season)."""
    return any(p.attendance for p in instance.attendees)


def search_weight(weight: float, season: bool) -> float:
    """What a repeat of a pair with this history weight costs the search, in repeats."""
    return 1.0 + SEASON_HISTORY_SHARE * (weight - 1.0) if season else weight


def meeting_weight(meeting: Meeting, today: date | None) -> float:
    """More often and more recently met pairs count more."""
    if meeting.last_met is None or today is None:
        recency = 1.0
    else:
        age = max(0, (today - meeting.last_met).days)
        recency = 0.5 + 0.5 * 0.5 ** (age / RECENCY_HALF_LIFE_DAYS)
    return max(1, meeting.times) * recency


@dataclass
class Costs:
    """Pair history and attributes of one instance, keyed for fast lookups by attendee id."""

    instance: Instance

    def __post_init__(self) -> None:
        present = {p.id for p in self.instance.attendees}
        today = self.instance.reference_date or max(
            (m.last_met for m in self.instance.history if m.last_met is not None), default=None
        )
        self.met: dict[frozenset[str], Meeting] = {}
        self.pair_weight: dict[frozenset[str], float] = {}
        for meeting in self.instance.history:
            if meeting.a == meeting.b or meeting.a not in present or meeting.b not in present:
                continue
            key = frozenset((meeting.a, meeting.b))
            known = self.met.get(key)
            if known is not None:  # the same pair listed twice: add the meetings up
                last = max((d for d in (known.last_met, meeting.last_met) if d), default=None)
                meeting = Meeting(meeting.a, meeting.b, known.times + meeting.times, last)
            self.met[key] = meeting
            self.pair_weight[key] = meeting_weight(meeting, today)
        self.function = {p.id: p.function for p in self.instance.attendees}
        self.seniority = {p.id: p.seniority for p in self.instance.attendees}

    def table(self, members: Sequence[str]) -> tuple[float, int, float, int, int]:
        """(cost, repeated pairs, repeat penalty, same-function pairs, seniority range)."""
        weights = self.instance.weights
        repeats = 0
        penalty = 0.0
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                w = self.pair_weight.get(frozenset((a, b)))
                if w is not None:
                    repeats += 1
                    penalty += w
        functions = Counter(self.function[m] for m in members if self.function[m])
        duplicates = sum(k * (k - 1) // 2 for k in functions.values())
        levels = [level for m in members if (level := self.seniority[m]) is not None]
        spread = (max(levels) - min(levels)) if levels else 0
        cost = (
            weights.repeat_pairs * penalty
            + weights.mixed_functions * duplicates
            + weights.seniority * spread
        )
        return cost, repeats, penalty, duplicates, spread

    def reasons(
        self, members: Sequence[str], names: Mapping[str, str] | None = None
    ) -> tuple[Reason, ...]:
        """Why a table costs what it does; ``names`` turns ids into names in the texts."""
        label = (lambda m: names.get(m, m)) if names else (lambda m: m)
        found: list[Reason] = []
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                meeting = self.met.get(frozenset((a, b)))
                if meeting is None:
                    continue
                when = f" met {meeting.last_met.isoformat()}" if meeting.last_met else " met"
                times = f" ({meeting.times} times)" if meeting.times > 1 else ""
                found.append(
                    Reason(
                        "repeat_pair", (a, b), f"repeat pair: {label(a)}-{label(b)}{when}{times}"
                    )
                )
        functions = Counter(self.function[m] for m in members if self.function[m])
        for function, k in sorted(functions.items()):
            if k > 1:
                ids = tuple(m for m in members if self.function[m] == function)
                found.append(Reason("same_function", ids, f"{k} x {function}"))
        ranked = [(level, m) for m in members if (level := self.seniority[m]) is not None]
        if ranked:
            low, high = min(ranked), max(ranked)
            if high[0] != low[0]:
                found.append(
                    Reason(
                        "seniority_range",
                        (low[1], high[1]),
                        f"seniority {low[0]}-{high[0]} (range {high[0] - low[0]})",
                    )
                )
        return tuple(found)


def evaluate(
    instance: Instance,
    plan: Sequence[Sequence[str]],
    *,
    hard_violations: int = 0,
    moves: int = 0,
    time_s: float = 0.0,
    stopped_by: str = "moves",
    names: Mapping[str, str] | None = None,
) -> tuple[tuple[TablePlan, ...], Metrics]:
    """Each table's score and reasons, and the plan's metrics."""
    costs = Costs(instance)
    tables = []
    repeated = duplicates = 0
    penalty = objective = 0.0
    ranges = []
    for number, members in enumerate(plan, start=1):
        cost, table_repeats, table_penalty, table_duplicates, spread = costs.table(members)
        tables.append(
            TablePlan(number, tuple(members), round(cost, 3), costs.reasons(members, names))
        )
        repeated += table_repeats
        penalty += table_penalty
        duplicates += table_duplicates
        objective += cost
        ranges.append(spread)
    metrics = Metrics(
        hard_violations=hard_violations,
        repeated_pairs=repeated,
        repeat_penalty=round(penalty, 3),
        duplicate_function_pairs=duplicates,
        seniority_range_mean=round(sum(ranges) / len(ranges), 3) if ranges else 0.0,
        seniority_range_max=max(ranges, default=0),
        objective=round(objective, 3),
        moves=moves,
        time_s=round(time_s, 3),
        stopped_by=stopped_by,
    )
    return tuple(tables), metrics
