"""A business case a member brings to the board of a table, and the advice it received."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, Text, Uuid
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, created_at_field, utcnow, uuid_pk


class CaseStatus(StrEnum):
    draft = "draft"
    submitted = "submitted"
    accepted = "accepted"
    scheduled = "scheduled"
    discussed = "discussed"
    outcome_reported = "outcome_reported"
    withdrawn = "withdrawn"
    declined = "declined"


# The cases a table discusses: publishing a seating schedules them at their authors' tables.
CASES_AT_TABLES = (CaseStatus.accepted, CaseStatus.scheduled)


class CaseVisibility(StrEnum):
    table = "table"  # the author's table (its members and facilitator), and admins
    facilitators = "facilitators"  # facilitators and admins only
    members = "members"  # every member


class Case(SQLModel, table=True):
    __tablename__ = "business_case"
    __table_args__ = (
        Index("ix_business_case_event_status", "event_id", "status"),
        Index("ix_business_case_author_created", "author_id", "created_at"),
    )

    id: uuid.UUID = uuid_pk()
    event_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("event.id", ondelete="CASCADE"), nullable=False)
    )
    author_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("member.id", ondelete="CASCADE"), nullable=False)
    )
    title: str = Field(sa_type=String(200))
    context: str = Field(sa_type=Text)
    question: str = Field(sa_type=Text)
    good_outcome: str = Field(sa_type=Text)
    visibility: str = Field(default=CaseVisibility.table, sa_type=String(16))
    status: str = Field(default=CaseStatus.draft, sa_type=String(24))
    decline_reason: str | None = Field(default=None, sa_type=String(1000))
    # The published table the case is discussed at (its author's, in the case's round).
    table_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("event_table.id", ondelete="SET NULL"), nullable=True),
    )
    # The round of the event the case is discussed in (its author sits at the table then).
    round: int | None = None
    outcome_action: str | None = Field(default=None, sa_type=Text)
    outcome_result: str | None = Field(default=None, sa_type=Text)
    outcome_reported_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When the author was asked for the outcome (two weeks after the event), once.
    outcome_requested_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_by: uuid.UUID | None = None
    version: int = Field(default=1)
    created_at: datetime = created_at_field()
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Recommendation(SQLModel, table=True):
    """Advice given to a case, with the experience it comes from; rated by the case's author."""

    __tablename__ = "recommendation"
    __table_args__ = (
        Index("ix_recommendation_case_created", "case_id", "created_at"),
        Index("ix_recommendation_author_created", "author_id", "created_at"),
        CheckConstraint(
            "usefulness IS NULL OR usefulness BETWEEN 1 AND 5", name="usefulness_range"
        ),
    )

    id: uuid.UUID = uuid_pk()
    case_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("business_case.id", ondelete="CASCADE"), nullable=False)
    )
    author_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("member.id", ondelete="CASCADE"), nullable=False)
    )
    advice: str = Field(sa_type=Text)
    experience: str = Field(sa_type=Text)
    usefulness: int | None = None
    rated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = created_at_field()
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
