"""Who sits with whom: seating plans, the published tables of an event, and their seats."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, Text, Uuid
from sqlmodel import Field, SQLModel

from app.models.base import JSONType, UTCDateTime, created_at_field, utcnow, uuid_pk


class PlanStatus(StrEnum):
    draft = "draft"
    published = "published"
    # A plan that was published and later replaced by another published one.
    superseded = "superseded"


class SeatingPlan(SQLModel, table=True):
    """A proposed seating of an event's attendees: drafted, adjusted, then published."""

    __tablename__ = "seating_plan"
    __table_args__ = (Index("ix_seating_plan_event_created", "event_id", "created_at"),)

    id: uuid.UUID = uuid_pk()
    event_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("event.id", ondelete="CASCADE"), nullable=False)
    )
    status: str = Field(default=PlanStatus.draft, sa_type=String(16))
    table_size: int
    # {"number": [member ids]} as the solver or an admin left it.
    tables: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    # The options the plan was generated with (seed, time limit, weights): reproducible.
    options: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    metrics: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    # Per table: score and reasons, as the last evaluation found them.
    evaluation: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    # Every round of the plan: {"tables": [{"number": [ids]} per round], "evaluation": [...],
    # "metrics": [...], "case_rounds": {member id: round}}. ``tables`` and ``evaluation``
    # above repeat the first round's; None on plans made before rounds existed (one round).
    rounds: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    created_by: uuid.UUID | None = None
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    version: int = Field(default=1)
    created_at: datetime = created_at_field()
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SeatingPin(SQLModel, table=True):
    """An admin's rule: this person sits at this table, whatever plan is generated."""

    __tablename__ = "seating_pin"

    event_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("event.id", ondelete="CASCADE"), primary_key=True)
    )
    member_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    )
    table_number: int
    created_at: datetime = created_at_field()


class SeatingKeepApart(SQLModel, table=True):
    """An admin's rule: these two never share a table at this event (stored a < b)."""

    __tablename__ = "seating_keep_apart"
    __table_args__ = (CheckConstraint("member_a < member_b", name="ordered_pair"),)

    event_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("event.id", ondelete="CASCADE"), primary_key=True)
    )
    member_a: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    )
    member_b: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    )
    created_at: datetime = created_at_field()


class EventTable(SQLModel, table=True):
    """A published table of an event: its number, name, facilitator and seats."""

    __tablename__ = "event_table"
    __table_args__ = (
        Index("uq_event_table_event_round_number", "event_id", "round", "number", unique=True),
    )

    id: uuid.UUID = uuid_pk()
    event_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("event.id", ondelete="CASCADE"), nullable=False)
    )
    plan_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("seating_plan.id", ondelete="CASCADE"), nullable=False)
    )
    # The round of the event this table seats (1 when the event seats everyone once).
    round: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    number: int
    name: str = Field(sa_type=String(100))
    facilitator_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("member.id", ondelete="SET NULL"), nullable=True),
    )
    seats: int
    created_at: datetime = created_at_field()


class TableSeat(SQLModel, table=True):
    """One person at one published table; the pair history is read from these rows."""

    __tablename__ = "table_seat"
    __table_args__ = (
        Index("uq_table_seat_event_round_member", "event_id", "round", "member_id", unique=True),
        Index("ix_table_seat_member", "member_id"),
    )

    table_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("event_table.id", ondelete="CASCADE"), primary_key=True)
    )
    member_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    )
    # Repeated from the table so one person is seated once per round of an event (a unique
    # index).
    event_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("event.id", ondelete="CASCADE"), nullable=False)
    )
    round: int = Field(default=1, sa_column_kwargs={"server_default": "1"})


class EventMessage(SQLModel, table=True):
    """An organiser's message to an event's people (an admin to everyone, a facilitator to
    their tables): kept as sent, e-mailed through the outbox."""

    __tablename__ = "event_message"

    id: uuid.UUID = uuid_pk()
    event_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("event.id", ondelete="CASCADE"), nullable=False)
    )
    author_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("member.id", ondelete="SET NULL"), nullable=True),
    )
    subject: str = Field(sa_type=String(200))
    body: str = Field(sa_type=Text)
    # The registration statuses written to (confirmed, waitlisted, checked_in).
    statuses: list[str] = Field(default_factory=list, sa_type=JSONType)
    # Only the people seated at these tables (a facilitator's message); None: the whole event.
    table_ids: list[str] | None = Field(default=None, sa_type=JSONType)
    recipients: int = Field(default=0)
    created_at: datetime = created_at_field()
