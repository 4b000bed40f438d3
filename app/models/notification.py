"""What a member wants to hear, and what the reminder job has sent."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Integer, String, Uuid
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, utcnow, uuid_pk


class NotificationKind(StrEnum):
    """Kinds of e-mail. Transactional ones (your account, your place) are always sent; each
    other kind can be turned off."""

    transactional = "transactional"
    reminders = "reminders"
    next_event = "next_event"
    messages = "messages"  # organisers' messages to an event's attendees
    surveys = "surveys"


OPTIONAL_KINDS = tuple(k for k in NotificationKind if k != NotificationKind.transactional)


class NotificationPreference(SQLModel, table=True):
    """A member's choices; no row means every kind is on."""

    __tablename__ = "notification_preference"

    member_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True, nullable=False
        )
    )
    reminders: bool = True
    next_event: bool = True
    messages: bool = True
    surveys: bool = True
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RegistrationReminder(SQLModel, table=True):
    """One reminder sent: its key makes a second one for the same offset impossible."""

    __tablename__ = "registration_reminder"

    registration_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid,
            ForeignKey("registration.id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
        )
    )
    offset_minutes: int = Field(sa_column=Column(Integer, primary_key=True, nullable=False))
    sent_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CalendarFeed(SQLModel, table=True):
    """A member's personal calendar feed. Its token is an HMAC of the member and ``salt``
    under the server's secret, kept only as its SHA-256; a new salt is a new URL."""

    __tablename__ = "calendar_feed"

    member_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True, nullable=False
        )
    )
    salt: str = Field(sa_type=String(32))
    token_digest: str = Field(sa_type=String(64), unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class NextEventRequest(SQLModel, table=True):
    """ "Tell me about the next meeting": a member on the list until the next event opens
    registration (``notified_event_id`` then names it: one e-mail per request)."""

    __tablename__ = "next_event_request"

    member_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True, nullable=False
        )
    )
    requested_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    notified_event_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("event.id", ondelete="SET NULL"), nullable=True),
    )
    notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class NextEventGuest(SQLModel, table=True):
    """Someone without an account who asked to hear about the next meeting (the public
    route). On the list once the address is proven by the link sent to it; answered by the
    next opening of registration (``notified_event_id``), or gone when they unsubscribe."""

    __tablename__ = "next_event_guest"

    id: uuid.UUID = uuid_pk()
    email: str = Field(sa_type=String(254))
    # The address as compared (NFKC, case folded): one row per person.
    email_key: str = Field(sa_type=String(254), unique=True)
    language: str = Field(default="ru", sa_type=String(2))
    # A new request replaces the link sent for the last one (the link carries this time).
    requested_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    notified_event_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("event.id", ondelete="SET NULL"), nullable=True),
    )
    notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def full_name(self) -> str | None:
        """A guest gave no name: e-mails greet them without one."""
        return None
