"""What the seating and tables routes read and write."""

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from app.core.schemas import REFUSED_CHARACTERS, InputSchema, ReadSchema, UTCTimestamp
from app.tables.seating.io import WeightsIn
from app.tables.seating.rounds import MAX_ROUNDS

MAX_TIME_LIMIT_S = 30.0


class SeatingOptions(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "seed": 7,
                    "time_limit_s": 5,
                    "rounds": 3,
                    "facilitators_stay": True,
                    "weights": {"repeat_pairs": 10, "mixed_functions": 3, "seniority": 1},
                }
            ]
        },
    )

    seed: int = Field(0, ge=0, le=2**31 - 1, description="The same seed gives the same plan.")
    time_limit_s: float = Field(
        5.0, gt=0, le=MAX_TIME_LIMIT_S, description="The solver's time budget in seconds."
    )
    tables: int | None = Field(
        None, ge=1, le=1000, description="How many tables (default: ceil(attendees / size))."
    )
    weights: WeightsIn = Field(default_factory=WeightsIn)
    rounds: int = Field(
        1,
        ge=1,
        le=MAX_ROUNDS,
        description="How many times everyone is seated (the tables rotate); planned together "
        "so that as few pairs as possible meet twice.",
    )
    facilitators_stay: bool = Field(
        False, description="Each facilitator keeps one table through every round."
    )


class SeatMove(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"member_id": "6f1c2d7e-1b9a-4c55-9a0e-3f2b8c4d5e61", "table": 3}]
        },
    )

    member_id: uuid.UUID
    table: int = Field(ge=1, le=1000, description="The table number to move the member to.")
    round: int = Field(1, ge=1, le=MAX_ROUNDS, description="The round the move is made in.")


class SeatSwap(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "member_id": "6f1c2d7e-1b9a-4c55-9a0e-3f2b8c4d5e61",
                    "other_member_id": "0b7e4a52-93d1-4f0c-8e2a-5c6d7e8f9a10",
                }
            ]
        },
    )

    member_id: uuid.UUID
    other_member_id: uuid.UUID
    round: int = Field(1, ge=1, le=MAX_ROUNDS, description="The round the swap is made in.")


class PinSet(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"table": 1}]})

    table: int = Field(ge=1, le=1000)


class KeepApartCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "member_ids": [
                        "6f1c2d7e-1b9a-4c55-9a0e-3f2b8c4d5e61",
                        "0b7e4a52-93d1-4f0c-8e2a-5c6d7e8f9a10",
                    ]
                }
            ]
        },
    )

    member_ids: list[uuid.UUID] = Field(min_length=2, max_length=2)


class SeatingRules(BaseModel):
    """An event's admin rules for seating: pins and pairs kept apart."""

    pins: dict[str, int] = Field(description="Member id -> table number.")
    keep_apart: list[list[uuid.UUID]]


class ReasonRead(BaseModel):
    kind: str = Field(description="repeat_pair, same_function or seniority_range.")
    member_ids: list[uuid.UUID]
    text: str


class SeatedAttendee(BaseModel):
    member_id: uuid.UUID
    full_name: str
    function: str | None
    seniority: int | None
    facilitator: bool
    has_case: bool
    pinned: bool


class PlanTableRead(BaseModel):
    number: int
    score: float = Field(description="The table's weighted cost: 0 is perfect, lower is better.")
    reasons: list[ReasonRead]
    attendees: list[SeatedAttendee]


class SeatingMetrics(BaseModel):
    hard_violations: int
    repeated_pairs: int
    repeat_penalty: float
    duplicate_function_pairs: int
    seniority_range_mean: float
    seniority_range_max: int
    objective: float
    moves: int
    time_s: float
    stopped_by: str
    lower_bound: int = Field(
        0, description="Repeated pairs that counting proves no plan of these rounds can avoid."
    )
    gap: int = Field(0, description="repeated_pairs minus lower_bound: 0 is the limit.")


class PlanRoundRead(BaseModel):
    round: int
    metrics: SeatingMetrics
    tables: list[PlanTableRead]


class SeatingPlanRead(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    status: str = Field(description="draft, published or superseded.")
    table_size: int
    options: SeatingOptions
    metrics: SeatingMetrics = Field(description="Over every round of the plan.")
    tables: list[PlanTableRead] = Field(description="The tables of the first round.")
    rounds: list[PlanRoundRead] = Field(
        description="Every round's tables (a pair met in an earlier round is a repeat)."
    )
    case_rounds: dict[str, int] = Field(
        default_factory=dict, description="Case author's member id -> the round it is discussed."
    )
    version: int
    created_at: datetime
    published_at: datetime | None


class TableMember(BaseModel):
    """A table-mate as the reader may see them: private fields only with consent."""

    member_id: uuid.UUID
    full_name: str
    function: str | None
    seniority: int | None
    company: str | None = None
    job_title: str | None = None
    email: str | None = None
    phone: str | None = None
    facilitator: bool


class TableCase(BaseModel):
    id: uuid.UUID
    title: str
    author_id: uuid.UUID
    status: str


class TableRead(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    round: int = Field(1, description="The round of the event the table seats.")
    number: int
    name: str
    facilitator_id: uuid.UUID | None
    seats: int
    members: list[TableMember]
    cases: list[TableCase] = Field(
        default_factory=list,
        description="The cases scheduled at the table (admins and its facilitator only).",
    )


class TableList(BaseModel):
    items: list[TableRead]


class MyTableRead(TableRead):
    """The reader's table in the first round, and their table in every round."""

    rounds: list[TableRead] = Field(description="The reader's table in each round, in order.")


# One line of text: no line break (a header cannot be injected), nothing our texts refuse.
ONE_LINE_PATTERN = f"^[^\\r\\n{REFUSED_CHARACTERS}]+$"


class MessageAudience(StrEnum):
    confirmed = "confirmed"
    waitlisted = "waitlisted"
    checked_in = "checked_in"


class EventMessageCreate(InputSchema):
    """An organisers' message. Admins write to the event's people; a facilitator to the
    people at their own tables only. Whoever turned organisers' messages off is left out."""

    subject: str = Field(
        min_length=1,
        max_length=150,
        pattern=ONE_LINE_PATTERN,
        description="One line: line breaks are refused.",
    )
    body: str = Field(min_length=1, max_length=5000)
    audience: list[MessageAudience] = Field(
        default_factory=lambda: [MessageAudience.confirmed],
        min_length=1,
        max_length=3,
        description="Whose registrations: `confirmed`, `waitlisted`, `checked_in`.",
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "subject": "Entrance from the courtyard",
                    "body": "The main door is closed on Saturday: come in from the courtyard.",
                    "audience": ["confirmed"],
                }
            ]
        }
    }


class EventMessagePreview(ReadSchema):
    recipients: int = Field(description="How many people the message would reach now.")


class EventMessageRead(ReadSchema):
    id: uuid.UUID
    event_id: uuid.UUID
    subject: str
    audience: list[MessageAudience]
    tables_only: bool = Field(description="True when only the sender's tables are written to.")
    recipients: int = Field(description="How many people it was queued for.")
    created_at: UTCTimestamp
