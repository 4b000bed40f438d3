import uuid
from typing import Annotated

from pydantic import Field, StringConstraints

from app.core.schemas import InputSchema, ReadSchema, UTCTimestamp
from app.models.application import ApplicationStatus
from app.models.member import Function
from app.models.review import AssignmentStatus, Recommendation

CriterionKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,39}$")]
Score = Annotated[int, Field(ge=1, le=5)]
# Keys that are not criterion keys are refused; say so in the contract (patternProperties
# alone lets any other key through).
Scores = Annotated[
    dict[CriterionKey, Score], Field(json_schema_extra={"additionalProperties": False})
]


class RubricCriterionRead(ReadSchema):
    key: str
    title: str
    description: str | None
    weight: float


class RubricCriterionInput(InputSchema):
    key: CriterionKey
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=1000)
    weight: float = Field(gt=0, le=100)


class RubricRead(ReadSchema):
    criteria: list[RubricCriterionRead]
    scale_min: int = 1
    scale_max: int = 5


class RubricUpdate(InputSchema):
    criteria: list[RubricCriterionInput] = Field(min_length=1, max_length=20)

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "criteria": [
                        {
                            "key": "managerial_experience",
                            "title": "Managerial experience",
                            "weight": 0.5,
                        },
                        {"key": "peer_value", "title": "What they bring to peers", "weight": 0.5},
                    ]
                }
            ]
        }
    }


class ReviewCreate(InputSchema):
    scores: Scores = Field(
        max_length=20, description="A score from 1 to 5 for every criterion of the rubric."
    )
    recommendation: Recommendation
    confidence: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=4000)

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "scores": {"managerial_experience": 4, "expertise_depth": 5, "peer_value": 4},
                    "recommendation": "approve",
                    "confidence": 4,
                    "comment": "Ran a 120-person engineering org through a platform rewrite.",
                }
            ]
        }
    }


class ReviewUpdate(InputSchema):
    scores: Scores | None = Field(default=None, max_length=20)
    recommendation: Recommendation | None = None
    confidence: int | None = Field(default=None, ge=1, le=5)
    comment: str | None = Field(default=None, max_length=4000)

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "scores": {"managerial_experience": 3, "expertise_depth": 4, "peer_value": 4},
                    "comment": "Revised after reading the team-size details.",
                }
            ]
        }
    }


class ReviewRead(ReadSchema):
    """A review as a reviewer sees it: no reviewer identity beyond whether it is mine."""

    id: uuid.UUID
    application_id: uuid.UUID
    scores: dict[str, int]
    weighted_score: float
    recommendation: Recommendation
    confidence: int
    comment: str | None
    mine: bool
    version: int
    submitted_at: UTCTimestamp
    updated_at: UTCTimestamp


class ReviewAdminRead(ReviewRead):
    reviewer_id: uuid.UUID


class ApplicationReviews(ReadSchema):
    """The reviews of one application (at most one per assigned reviewer, so never long)."""

    items: list[ReviewAdminRead | ReviewRead]
    others_hidden: bool = Field(
        description="True when other reviews exist but stay hidden until yours is submitted."
    )
    mean_score: float | None
    normalised_score: float | None = Field(
        description="Admins only: the mean with each reviewer's bias against co-reviewers "
        "taken out."
    )


class BlindApplication(ReadSchema):
    """An application as its reviewer sees it: the professional content only. Company and job
    title appear only with the applicant's consent; name, contacts and links never."""

    id: uuid.UUID
    status: ApplicationStatus
    function: Function | None
    seniority: int | None
    seniority_label: str | None
    industry: str | None
    years_in_management: int | None
    team_size: int | None
    company: str | None
    job_title: str | None
    experience_summary: str | None
    wants: str | None
    gives: str | None
    submitted_at: UTCTimestamp | None
    assigned_at: UTCTimestamp
    my_review_id: uuid.UUID | None


class BlindCopyUpdate(InputSchema):
    """The texts as reviewers will read them; a field left out keeps the masked original."""

    experience_summary: str | None = Field(default=None, max_length=4000)
    wants: str | None = Field(default=None, max_length=2000)
    gives: str | None = Field(default=None, max_length=2000)

    model_config = {
        "json_schema_extra": {
            "examples": [{"experience_summary": "Eight years as CTO of a large [company]."}]
        }
    }


class BlindCopyRead(ReadSchema):
    """What reviewers read of the free text: masked automatically, or as an admin edited it."""

    experience_summary: str | None
    wants: str | None
    gives: str | None
    edited: bool = Field(description="Whether an admin edited the masked copy.")


class QueueItem(ReadSchema):
    application_id: uuid.UUID
    assigned_at: UTCTimestamp
    function: Function | None
    seniority: int | None
    industry: str | None


class RecusalCreate(InputSchema):
    reason: str = Field(min_length=1, max_length=1000)

    model_config = {"json_schema_extra": {"examples": [{"reason": "I know the applicant."}]}}


class AssignmentRead(ReadSchema):
    id: uuid.UUID
    reviewer_id: uuid.UUID
    status: AssignmentStatus
    recusal_reason: str | None
    assigned_at: UTCTimestamp
    ended_at: UTCTimestamp | None
    reviewed: bool


class ReassignRequest(InputSchema):
    remove_reviewer_id: uuid.UUID
    add_reviewer_id: uuid.UUID | None = Field(
        default=None, description="The replacement; the least-loaded eligible one when absent."
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "remove_reviewer_id": "0b9f4c1e-2d8a-4c55-9a37-5f1d2e3c4b6a",
                    "add_reviewer_id": "6d2e8f10-7a3b-4c9d-8e1f-2a3b4c5d6e7f",
                }
            ]
        }
    }


class ReviewerStats(ReadSchema):
    reviewer_id: uuid.UUID
    open_assignments: int
    reviews: int
    mean_score: float | None
    harshness: float | None = Field(
        description="Mean z-score against co-reviewers of the same applications; below zero "
        "is harsher than the others."
    )


class ReviewerStatsList(ReadSchema):
    """Every reviewer (the council is small), the most loaded first."""

    items: list[ReviewerStats]
