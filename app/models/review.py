"""The expert council's work: who reviews what, the reviews, and the rubric they follow."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import JSONType, UTCDateTime, created_at_field, utcnow, uuid_pk


class AssignmentStatus(StrEnum):
    active = "active"
    recused = "recused"  # the reviewer declined; never assigned to this application again
    removed = "removed"  # an admin took the application away from this reviewer


class Recommendation(StrEnum):
    approve = "approve"
    reject = "reject"
    abstain = "abstain"


class ReviewAssignment(SQLModel, table=True):
    __tablename__ = "review_assignment"
    __table_args__ = (
        UniqueConstraint("application_id", "reviewer_id", name="uq_review_assignment_pair"),
        Index("ix_review_assignment_reviewer_status", "reviewer_id", "status", "assigned_at"),
    )

    id: uuid.UUID = uuid_pk()
    application_id: uuid.UUID = Field(foreign_key="application.id", ondelete="CASCADE", index=True)
    reviewer_id: uuid.UUID = Field(foreign_key="member.id", ondelete="CASCADE")
    status: str = Field(default=AssignmentStatus.active, sa_type=String(16))
    recusal_reason: str | None = Field(default=None, sa_type=String(1000))
    assigned_at: datetime = created_at_field()
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Review(SQLModel, table=True):
    __tablename__ = "review"
    __table_args__ = (
        UniqueConstraint("application_id", "reviewer_id", name="uq_review_pair"),
        CheckConstraint("confidence BETWEEN 1 AND 5", name="confidence_range"),
        Index("ix_review_reviewer_id", "reviewer_id", "submitted_at"),
    )

    id: uuid.UUID = uuid_pk()
    application_id: uuid.UUID = Field(foreign_key="application.id", ondelete="CASCADE", index=True)
    reviewer_id: uuid.UUID = Field(foreign_key="member.id", ondelete="CASCADE")
    scores: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    # The weighted mean under the rubric in force when the review was last saved.
    weighted_score: float
    recommendation: str = Field(sa_type=String(8))
    confidence: int
    comment: str | None = Field(default=None, sa_type=String(4000))
    version: int = Field(default=1)
    submitted_at: datetime = created_at_field()
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RubricCriterion(SQLModel, table=True):
    """One line of the rubric: scored 1 to 5, weighted. Seeded by the migration."""

    __tablename__ = "rubric_criterion"
    __table_args__ = (CheckConstraint("weight > 0", name="weight_positive"),)

    key: str = Field(sa_type=String(40), primary_key=True)
    title: str = Field(sa_type=String(200))
    description: str | None = Field(default=None, sa_type=String(1000))
    weight: float = Field(default=1.0)
    position: int = Field(default=0)
