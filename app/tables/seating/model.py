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


@dataclass(frozen=True)
class Reason:
    kind: str  # repeat_pair | same_function | seniority_range
    member_ids: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class Violation:
    """A hard rule a plan breaks (or that no plan can keep), and the people involved."""

    rule: str  # table_count | table_size | one_table | company | facilitators | cases | pin |
    # keep_apart | combined
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
