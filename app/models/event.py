"""An event of the community: a meeting with seats at tables of (about) eight."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, Index, String, Text, text
from sqlmodel import Field, SQLModel

from app.models.base import JSONType, UTCDateTime, created_at_field, utcnow, uuid_pk

DEFAULT_REMINDER_OFFSETS = (2 * 24 * 60, 3 * 60)


class EventStatus(StrEnum):
    draft = "draft"
    published = "published"
    registration_open = "registration_open"
    registration_closed = "registration_closed"
    completed = "completed"
    cancelled = "cancelled"


class EventVisibility(StrEnum):
    members = "members"  # listed to signed-in members only
    public = "public"  # also in the public listing, without attendees


class Event(SQLModel, table=True):
    __tablename__ = "event"
    __table_args__ = (
        # The backstop of "never oversold": whatever the code does, the row cannot hold more
        # firm seats (confirmed, checked in, offered) than the event has.
        CheckConstraint("seats_held >= 0 AND seats_held <= seats", name="seats_not_oversold"),
        CheckConstraint("seats > 0", name="seats_positive"),
        CheckConstraint("table_size BETWEEN 2 AND 20", name="table_size_range"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_event_starts_at_id", "starts_at", "id"),
    )

    id: uuid.UUID = uuid_pk()
    title: str = Field(sa_type=String(200))
    description: str = Field(default="", sa_type=Text)
    venue_name: str = Field(default="", sa_type=String(200))
    venue_address: str = Field(default="", sa_type=String(500))
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    time_zone: str = Field(default="Europe/Moscow", sa_type=String(64))
    seats: int
    table_size: int = Field(default=8)
    registration_opens_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    registration_closes_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Pending registrations not confirmed by then are released.
    confirm_by: datetime | None = Field(default=None, sa_type=UTCDateTime)
    speaker_ids: list[str] = Field(default_factory=list, sa_type=JSONType)
    # Reminders to confirmed attendees, this many minutes before the start (2 days, 3 hours).
    reminder_offsets_minutes: list[int] = Field(
        default_factory=lambda: list(DEFAULT_REMINDER_OFFSETS),
        sa_column=Column(JSONType, nullable=False, server_default=text("'[2880, 180]'")),
    )
    timepad_event_id: int | None = Field(default=None, unique=True)
    visibility: str = Field(default=EventVisibility.members, sa_type=String(16))
    status: str = Field(default=EventStatus.draft, sa_type=String(24), index=True)
    # Firm seats: confirmed + checked in + offered, and the seats held for confirmations in
    # flight (``SeatHold``). Changed only by conditional updates.
    seats_held: int = Field(default=0)
    # The waiting list's order: each newcomer takes the next number (one taken by a request
    # that then failed leaves a gap: the line is ordered by these numbers, never counted).
    waitlist_seq: int = Field(default=0)
    created_by: uuid.UUID | None = None
    version: int = Field(default=1)
    created_at: datetime = created_at_field()
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
