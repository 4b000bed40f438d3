"""The seating instance and plan as JSON: the command line's format and the API's options."""

from dataclasses import asdict
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.tables.seating.model import (
    Attendee,
    Instance,
    Meeting,
    Plan,
    RoundsPlan,
    TablePlan,
    Weights,
)
from app.tables.seating.rounds import MAX_ROUNDS

MAX_ATTENDEES = 5_000


class WeightsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repeat_pairs: float = Field(
        Weights.repeat_pairs,
        ge=0,
        le=1000,
        description="Per repeated pair, scaled by frequency and recency.",
    )
    mixed_functions: float = Field(
        Weights.mixed_functions,
        ge=0,
        le=1000,
        description="Per pair of people with the same function.",
    )
    seniority: float = Field(
        Weights.seniority, ge=0, le=1000, description="Per level of seniority range at a table."
    )

    def to_weights(self) -> Weights:
        return Weights(self.repeat_pairs, self.mixed_functions, self.seniority)


class AttendeeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=100)
    function: str | None = Field(None, max_length=60)
    seniority: int | None = Field(None, ge=0, le=100)
    company: str | None = Field(None, max_length=200)
    facilitator: bool = False
    has_case: bool = False
    pinned_table: int | None = Field(None, ge=1)
    case_round: int | None = Field(None, ge=1, le=MAX_ROUNDS)
    attendance: float = Field(0.0, ge=0, le=1)


class MeetingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    a: str = Field(min_length=1, max_length=100)
    b: str = Field(min_length=1, max_length=100)
    times: int = Field(1, ge=1, le=1000)
    last_met: date | None = None


class InstanceIn(BaseModel):
    """A seating problem as JSON (the command line's input)."""

    model_config = ConfigDict(extra="forbid")

    table_size: int = Field(ge=2, le=50)
    tables: int | None = Field(None, ge=1, le=MAX_ATTENDEES)
    attendees: list[AttendeeIn] = Field(min_length=1, max_length=MAX_ATTENDEES)
    history: list[MeetingIn] = Field(default_factory=list, max_length=2_000_000)
    keep_apart: list[tuple[str, str]] = Field(default_factory=list, max_length=100_000)
    seed: int = 0
    time_limit_s: float = Field(10.0, gt=0, le=600)
    max_moves: int | None = Field(None, ge=0, le=100_000_000)
    reference_date: date | None = None
    weights: WeightsIn = Field(default_factory=WeightsIn)
    rounds: int = Field(1, ge=1, le=MAX_ROUNDS)
    facilitators_stay: bool = False

    @model_validator(mode="after")
    def _known_people(self) -> "InstanceIn":
        ids = [a.id for a in self.attendees]
        if len(set(ids)) != len(ids):
            raise ValueError("attendee ids must be unique")
        known = set(ids)
        for a, b in self.keep_apart:
            if a not in known or b not in known or a == b:
                raise ValueError(f"keep_apart pair {a!r}, {b!r} must name two attendees")
        return self

    def to_instance(self) -> Instance:
        return Instance(
            table_size=self.table_size,
            tables=self.tables,
            attendees=tuple(Attendee(**a.model_dump()) for a in self.attendees),
            history=tuple(Meeting(**m.model_dump()) for m in self.history),
            keep_apart=tuple(self.keep_apart),
            seed=self.seed,
            time_limit_s=self.time_limit_s,
            max_moves=self.max_moves,
            reference_date=self.reference_date,
            weights=self.weights.to_weights(),
            rounds=self.rounds,
            facilitators_stay=self.facilitators_stay,
        )


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The command line's output: tables, metrics, and the infeasibility when there is one."""
    return {
        "status": plan.status,
        "tables": _tables_json(plan.tables),
        "metrics": None if plan.metrics is None else asdict(plan.metrics),
        "infeasible": None
        if plan.infeasible is None
        else {
            "rule": plan.infeasible.rule,
            "ids": list(plan.infeasible.member_ids),
            "detail": plan.infeasible.detail,
        },
    }


def _tables_json(tables: tuple[TablePlan, ...]) -> list[dict[str, Any]]:
    return [
        {
            "number": t.number,
            "attendees": list(t.attendees),
            "score": t.score,
            "reasons": [r.text for r in t.reasons],
        }
        for t in tables
    ]


def rounds_plan_to_json(plan: RoundsPlan) -> dict[str, Any]:
    """The command line's output for rounds: each round's tables beside the metrics over all
    rounds and the counting lower bound of repeated pairs. ``tables`` repeats the first
    round's, so a reader of single-round plans reads these too."""
    return {
        "status": plan.status,
        "tables": _tables_json(plan.rounds[0]) if plan.rounds else [],
        "rounds": [
            {
                "round": number,
                "tables": _tables_json(tables),
                "metrics": asdict(metrics),
            }
            for number, (tables, metrics) in enumerate(
                zip(plan.rounds, plan.round_metrics, strict=True), start=1
            )
        ],
        "metrics": None if plan.metrics is None else asdict(plan.metrics),
        "lower_bound": plan.lower_bound,
        "gap": plan.gap,
        "start": plan.start,
        "case_rounds": dict(plan.case_rounds),
        "infeasible": None
        if plan.infeasible is None
        else {
            "rule": plan.infeasible.rule,
            "ids": list(plan.infeasible.member_ids),
            "detail": plan.infeasible.detail,
        },
    }
