"""What the case routes read and write."""

import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.core.schemas import NON_BLANK_PATTERN, InputSchema
from app.members.schemas import CaseExport, RecommendationExport
from app.models.case import CaseVisibility

# Stripped, so whitespace alone is empty: the pattern says so in the contract (and no NUL).
Text = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=10_000, pattern=NON_BLANK_PATTERN
    ),
]
Title = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=200, pattern=NON_BLANK_PATTERN
    ),
]


class CaseCreate(InputSchema):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "event_id": "2d4f6a8c-0e1b-4c3d-9f5a-7b8c9d0e1f2a",
                    "title": "Moving the data team under the CFO",
                    "context": "A retailer with 40 analysts reporting to IT.",
                    "question": "Should analytics report to finance?",
                    "good_outcome": "A decision and a 90-day plan.",
                    "visibility": "table",
                    "submit": True,
                }
            ]
        },
    )

    event_id: uuid.UUID
    title: Title
    context: Text = Field(description="The situation: company, stakes, what was tried.")
    question: Text = Field(description="The question to the board.")
    good_outcome: Text = Field(description="What a good outcome looks like.")
    visibility: CaseVisibility = Field(
        CaseVisibility.table,
        description="table: the author's table and admins; facilitators: facilitators and "
        "admins; members: every member.",
    )
    submit: bool = Field(False, description="Submit at once instead of keeping a draft.")


class CaseUpdate(InputSchema):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"question": "Who should own analytics: IT or finance?"}]},
    )

    title: Title | None = None
    context: Text | None = None
    question: Text | None = None
    good_outcome: Text | None = None
    visibility: CaseVisibility | None = None


class CaseDecline(InputSchema):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"reason": "Out of the board format: a vendor comparison."}]
        },
    )

    reason: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=1, max_length=1000, pattern=NON_BLANK_PATTERN
        ),
    ]


class CaseOutcome(InputSchema):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "action": "Moved analytics under the CFO with a dotted line to IT.",
                    "result": "Reporting time halved within a quarter.",
                }
            ]
        },
    )

    action: Text = Field(description="What the author did.")
    result: Text = Field(description="What happened.")


class CaseRead(CaseExport):
    # The fields are declared once, in the member's data export (members sits below cases):
    # a case reads the same to its author's export and to the cases API.
    pass


class RecommendationCreate(InputSchema):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "advice": "Keep the platform team in IT, move the analysts.",
                    "experience": "At a bank in 2023 I split them this way; output doubled.",
                }
            ]
        },
    )

    advice: Text
    experience: Text = Field(description="What I did, where, and what happened: required.")


class RecommendationRating(InputSchema):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"usefulness": 5}]})

    usefulness: int = Field(ge=1, le=5)


class RecommendationRead(RecommendationExport):
    # Declared once with the export, as ``CaseRead``.
    pass


class GroupStats(BaseModel):
    key: str = Field(description="The table id or the facilitator id.")
    cases: int
    with_outcome: int
    recommendations: int
    mean_usefulness: float | None


class CaseStats(BaseModel):
    cases: int
    with_outcome: int
    outcome_share: float | None = Field(
        description="Share of discussed cases whose author reported the outcome."
    )
    mean_usefulness: float | None
    by_table: list[GroupStats]
    by_facilitator: list[GroupStats]
