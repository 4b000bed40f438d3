"""A person's place at an event: pending until confirmed a second time, or on the waiting list."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, Uuid, text
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, created_at_field, utcnow, uuid_pk


class RegistrationStatus(StrEnum):
    pending_confirmation = "pending_confirmation"
    confirmed = "confirmed"
    waitlisted = "waitlisted"
    offered = "offered"
    checked_in = "checked_in"
    no_show = "no_show"
    cancelled = "cancelled"


# The statuses that hold one of the event's seats.
SEAT_HOLDING = (
    RegistrationStatus.confirmed,
    RegistrationStatus.checked_in,
    RegistrationStatus.offered,
)


class Registration(SQLModel, table=True):
    __tablename__ = "registration"
    __table_args__ = (
        # One registration per person per event, for members and for Timepad guests alike.
        Index(
            "uq_registration_event_member",
            "event_id",
            "member_id",
            unique=True,
            postgresql_where=text("member_id IS NOT NULL"),
            sqlite_where=text("member_id IS NOT NULL"),
        ),
        Index(
            "uq_registration_event_guest_email",
            "event_id",
            "guest_email",
            unique=True,
            postgresql_where=text("guest_email IS NOT NULL"),
            sqlite_where=text("guest_email IS NOT NULL"),
        ),
        Index("ix_registration_event_status", "event_id", "status", "waitlist_position"),
        Index("ix_registration_member_created", "member_id", "created_at"),
        CheckConstraint("member_id IS NOT NULL OR guest_email IS NOT NULL", name="has_person"),
    )

    id: uuid.UUID = uuid_pk()
    event_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("event.id", ondelete="CASCADE"), nullable=False)
    )
    member_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("member.id", ondelete="CASCADE"), nullable=True),
    )
    # Someone who registered through Timepad with an e-mail no member has (admins see them).
    guest_email: str | None = Field(default=None, sa_type=String(254))
    guest_name: str | None = Field(default=None, sa_type=String(200))
    status: str = Field(default=RegistrationStatus.pending_confirmation, sa_type=String(24))
    source: str | None = Field(default=None, sa_type=String(100))
    utm_source: str | None = Field(default=None, sa_type=String(100))
    utm_medium: str | None = Field(default=None, sa_type=String(100))
    utm_campaign: str | None = Field(default=None, sa_type=String(100))
    waitlist_position: int | None = None
    offer_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    checked_in_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    checked_in_by: uuid.UUID | None = None
    # The scan that checked this person in: the same scan again is answered the same way.
    check_in_nonce: str | None = Field(default=None, sa_type=String(64))
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancel_reason: str | None = Field(default=None, sa_type=String(32))
    # Rotated when a confirmation link is used: a link works once.
    link_nonce: str = Field(default_factory=lambda: uuid.uuid4().hex, sa_type=String(32))
    timepad_order_id: int | None = Field(default=None, unique=True)
    timepad_status: str | None = Field(default=None, sa_type=String(32))
    # When Timepad last changed the order: an older status arriving later does not win.
    timepad_status_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    version: int = Field(default=1)
    created_at: datetime = created_at_field()
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SeatHold(SQLModel, table=True):
    """A seat taken for a confirmation by a statement committed on its own, before the
    confirmation's transaction commits (so that nobody queues on the event's row meanwhile).
    That transaction deletes the hold as it confirms; a hold still here belongs to a request
    that failed or died, and goes back to the event when it expires.

    No foreign keys: the hold is written beside a transaction that may hold its registration's
    row locked (a key check would wait for it) or may not have committed the registration yet.
    A hold whose registration or event is gone simply expires."""

    __tablename__ = "seat_hold"

    registration_id: uuid.UUID = Field(primary_key=True)
    event_id: uuid.UUID
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
