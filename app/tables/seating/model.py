"""The seating problem and its answer, as plain values: what the solver reads and writes."""

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Attendee:
    id: str
    function: str | None = None
    seniority: int | None = None
    company: str | None = None
    facilitator: bool = False
    has_case: bool = False
    pinned_table: int | None = None  # 1-based, as tables are numbered for people
    # The round (1-based) the attendee's case is discussed in; None lets the solver choose.
    case_round: int | None = None
    # How often the attendee comes (the share of recent events, 0 to 1): a season-aware plan
    # keeps the unmet pairs of frequent attendees for the events still to come.
    attendance: float = 0.0


@dataclass(frozen=True)
class Meeting:
    """Two people who already sat at one table: how often, and when last."""

    a: str
    b: str
    times: int = 1
    last_met: date | None = None


@dataclass(frozen=True)
class Weights:
    """How much each goal counts; the defaults put meeting new people first."""

    repeat_pairs: float = 10.0  # per repeated pair, scaled by how often and how recently
    mixed_functions: float = 3.0  # per pair of people with the same function at a table
    seniority: float = 2.0  # per level of seniority range at a table
    # Per first meeting of two frequent attendees (attendance a * b): a tie-break, smaller than
    # every other goal, so that of equal plans the one saving their unmet pairs wins.
    season: float = 0.5


@dataclass(frozen=True)
class Instance:
    table_size: int
    attendees: tuple[Attendee, ...]
    history: tuple[Meeting, ...] = ()
    keep_apart: tuple[tuple[str, str], ...] = ()
    tables: int | None = None
    seed: int = 0
    time_limit_s: float = 10.0
    weights: Weights = field(default_factory=Weights)
    # The search length in moves; with the same seed and moves the plan is the same.
    max_moves: int | None = None
    # The day recency of past meetings is measured from (default: the latest meeting).
    reference_date: date | None = None
    # How many times the event seats everyone (the tables rotate after each case).
    rounds: int = 1
    # Each facilitator keeps one table through every round (people rotate past them).
    facilitators_stay: bool = False


@dataclass(frozen=True)
class Reason:
    kind: str  # repeat_pair | same_function | seniority_range
    member_ids: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class Violation:
    """A hard rule a plan breaks (or that no plan can keep), and the people involved."""

    rule: str  # table_count | table_size | one_table | company | facilitators | cases | pin |
    # keep_apart | facilitator_stays | rounds | combined
    member_ids: tuple[str, ...]
    detail: str


@dataclass(frozen=True)
class TablePlan:
    number: int
    attendees: tuple[str, ...]
    score: float  # the table's weighted cost: 0 is a perfect table, lower is better
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class Metrics:
    hard_violations: int
    repeated_pairs: int
    repeat_penalty: float
    duplicate_function_pairs: int
    seniority_range_mean: float
    seniority_range_max: int
    objective: float
    moves: int = 0
    time_s: float = 0.0
    # "moves" when the search ran its full length, "time_limit" when the budget cut it short.
    stopped_by: str = "moves"


@dataclass(frozen=True)
class Plan:
    """Either tables with metrics, or the proof that the rules cannot all hold.

    ``status`` is "ok", "infeasible" (``infeasible`` names the rule and the people), or
    "not_found": the search ended without a plan and without a proof either way.
    """

    status: str
    tables: tuple[TablePlan, ...] = ()
    metrics: Metrics | None = None
    infeasible: Violation | None = None


@dataclass(frozen=True)
class RoundsPlan:
    """A plan of several rounds: each round's tables, the metrics over all of them, and how
    far the repeated pairs are from the least any plan of this instance can have.

    ``metrics.repeated_pairs`` counts every seating of two people who met before (at an
    earlier event or in an earlier round); ``lower_bound`` is what counting proves must repeat,
    ``gap`` the distance from it. ``case_rounds`` names the round each case is discussed in.
    """

    status: str
    rounds: tuple[tuple[TablePlan, ...], ...] = ()
    round_metrics: tuple[Metrics, ...] = ()
    metrics: Metrics | None = None
    lower_bound: int = 0
    gap: int = 0
    case_rounds: tuple[tuple[str, int], ...] = ()
    infeasible: Violation | None = None
    start: str = "greedy"  # "affine_plane" when a resolvable design gave the start
