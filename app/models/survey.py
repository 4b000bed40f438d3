"""Surveys: the questions (as data), who answered, and what was answered.

Who answered and what was answered live in two tables. For an anonymous survey the answer row
carries no member id, no time finer than the day and a random id, so neither a query, an
ordering nor a timestamp ties an answer to the person recorded as having answered.
"""

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, Column, Date, ForeignKey, Index, String, Text, Uuid, text
from sqlmodel import Field, SQLModel

from app.models.base import JSONType, UTCDateTime, created_at_field, utcnow, uuid_pk


class SurveyStatus(StrEnum):
    draft = "draft"
    # Opened by an admin with opens_at still ahead: the scheduler opens it then.
    scheduled = "scheduled"
    open = "open"
    closed = "closed"


class SurveyAudience(StrEnum):
    checked_in = "checked_in"  # the event's attendees who were checked in at the door
    confirmed = "confirmed"  # everyone whose seat was confirmed (came or not)
    members = "members"  # every active member of the community


class QuestionType(StrEnum):
    rating = "rating"  # 1 to 5
    nps = "nps"  # 0 to 10
    single_choice = "single_choice"
    multiple_choice = "multiple_choice"
    yes_no = "yes_no"
    short_text = "short_text"
    long_text = "long_text"


class Survey(SQLModel, table=True):
    __tablename__ = "survey"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'scheduled', 'open', 'closed')", name="status_known"),
        CheckConstraint(
            "audience IN ('checked_in', 'confirmed', 'members')", name="audience_known"
        ),
        # An audience drawn from registrations needs the event they registered for.
        CheckConstraint(
            "audience = 'members' OR event_id IS NOT NULL", name="event_audience_has_event"
        ),
        CheckConstraint("satisfied_threshold BETWEEN 1 AND 5", name="threshold_range"),
        CheckConstraint("min_group_size BETWEEN 2 AND 100", name="min_group_size_range"),
        CheckConstraint(
            "closes_at IS NULL OR opens_at IS NULL OR closes_at > opens_at",
            name="closes_after_opening",
        ),
        Index("ix_survey_created_at_id", "created_at", "id"),
    )

    id: uuid.UUID = uuid_pk()
    event_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(
            Uuid, ForeignKey("event.id", ondelete="CASCADE"), nullable=True, index=True
        ),
    )
    title: str = Field(sa_type=String(200))
    description: str = Field(default="", sa_type=Text)
    status: str = Field(default=SurveyStatus.draft, sa_type=String(16), index=True)
    anonymous: bool = Field(default=True)
    audience: str = Field(default=SurveyAudience.checked_in, sa_type=String(16))
    # Named surveys only: a respondent may change their answers while the survey is open.
    allow_edit: bool = Field(default=False)
    opens_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closes_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When those who have not answered get one reminder (the scheduler sends it).
    remind_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reminded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    opened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # An answer at or above this on the headline rating question counts as satisfied.
    satisfied_threshold: int = Field(default=4)
    # k: a breakdown group (a table, a facilitator) with fewer answers is never shown.
    min_group_size: int = Field(default=5)
    # The rating question of the headline "share satisfied"; the first rating when unset.
    headline_question: str | None = Field(default=None, sa_type=String(40))
    # [{"key", "type", "text", "section", "required", "options", ...}] in order.
    questions: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    created_by: uuid.UUID | None = None
    version: int = Field(default=1)
    created_at: datetime = created_at_field()
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SurveyRespondent(SQLModel, table=True):
    """That a member answered a survey: "once each" and the reminders rest on this row.

    Deliberately without a timestamp or a link to the answers: for anonymous surveys this is
    the only place the member appears.
    """

    __tablename__ = "survey_respondent"

    survey_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("survey.id", ondelete="CASCADE"), primary_key=True)
    )
    member_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    )


class SurveyResponse(SQLModel, table=True):
    """What was answered. ``member_id`` is set for named surveys only."""

    __tablename__ = "survey_response"
    __table_args__ = (
        Index(
            "uq_survey_response_survey_member",
            "survey_id",
            "member_id",
            unique=True,
            postgresql_where=text("member_id IS NOT NULL"),
            sqlite_where=text("member_id IS NOT NULL"),
        ),
        Index("ix_survey_response_survey", "survey_id"),
        Index(
            "ix_survey_response_unsealed",
            "survey_id",
            postgresql_where=text("NOT sealed"),
            sqlite_where=text("NOT sealed"),
        ),
        # On SQLite the implicit rowid would number answers in the order they came, the
        # same order as the respondent rows: stored by the random id instead.
        {"sqlite_with_rowid": False},
    )

    # Random (uuid4), never sequential: the id says nothing about when the row was written.
    id: uuid.UUID = uuid_pk()
    survey_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("survey.id", ondelete="CASCADE"), nullable=False)
    )
    member_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("member.id", ondelete="SET NULL"), nullable=True),
    )
    # The respondent's table at the event, for breakdowns shown only from k answers up.
    table_number: int | None = None
    # {question key: answer}; unanswered optional questions are absent.
    answers: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    # The day only: precise enough for "answers per day", too coarse to line up with anything.
    submitted_on: date = Field(sa_column=Column(Date, nullable=False))
    updated_on: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    # The row is written in the transaction that records who answered, so on PostgreSQL both
    # carry the same transaction id (xmin) and neighbouring places on disk. The scheduler
    # rewrites new answers soon after, together and in random order ("sealing"), which gives
    # them the sealing transaction's id and a new place.
    sealed: bool = Field(default=False)
