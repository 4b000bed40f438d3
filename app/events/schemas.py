"""Shapes of the events API."""

import uuid
from datetime import datetime
from typing import Annotated
from zoneinfo import available_timezones

from pydantic import Field, field_validator, model_validator

from app.core.schemas import InputSchema, Keep, ReadSchema, UTCTimestamp
from app.models.event import DEFAULT_REMINDER_OFFSETS, EventStatus, EventVisibility

_ZONES = frozenset(available_timezones())
# The list depends on the tz database installed, so the contract names the rule, not the list.
ZONE_DESCRIPTION = "An IANA time zone name, e.g. `Europe/Moscow`."


def _check_zone(value: str | None) -> str | None:
    if value is not None and value not in _ZONES:
        raise ValueError("must be an IANA time zone name, e.g. Europe/Moscow")
    return value


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("needs a time zone, e.g. a trailing Z")
    return value


REMINDER_DESCRIPTION = (
    "Reminders to confirmed attendees, in minutes before the start (at most 5, each from 5 "
    "minutes to 30 days; `[]` sends none). Default: 2 days and 3 hours, `[2880, 180]`."
)
ReminderOffset = Annotated[int, Field(ge=5, le=30 * 24 * 60)]


class EventFields(InputSchema):
    @field_validator("reminder_offsets_minutes", check_fields=False)
    @classmethod
    def _offsets(cls, value: list[int] | None) -> list[int] | None:
        return None if value is None else sorted(set(value), reverse=True)

    @field_validator("time_zone", check_fields=False)
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return _check_zone(value)

    @field_validator(
        "starts_at",
        "ends_at",
        "registration_opens_at",
        "registration_closes_at",
        "confirm_by",
        check_fields=False,
    )
    @classmethod
    def _tz(cls, value: datetime | None) -> datetime | None:
        return _aware(value)


class EventCreate(EventFields):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10000)
    venue_name: str = Field(default="", max_length=200)
    venue_address: str = Field(default="", max_length=500)
    starts_at: datetime
    ends_at: datetime = Field(description="After `starts_at`.")
    time_zone: str = Field(default="Europe/Moscow", max_length=64, description=ZONE_DESCRIPTION)
    seats: int = Field(ge=1, le=10000)
    table_size: int = Field(default=8, ge=2, le=20)
    registration_opens_at: datetime | None = None
    registration_closes_at: datetime | None = None
    confirm_by: datetime | None = Field(
        default=None, description="Pending registrations not confirmed by then are released."
    )
    speaker_ids: list[uuid.UUID] = Field(default_factory=list, max_length=20)
    timepad_event_id: int | None = Field(default=None, ge=1, le=2**53)
    visibility: EventVisibility = EventVisibility.members
    reminder_offsets_minutes: list[ReminderOffset] = Field(
        default_factory=lambda: list(DEFAULT_REMINDER_OFFSETS),
        max_length=5,
        description=REMINDER_DESCRIPTION,
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "title": "Board of directors #1",
                    "venue_name": "Loft on Tverskaya",
                    "venue_address": "Moscow, Tverskaya 1",
                    "starts_at": "2027-02-09T15:00:00Z",
                    "ends_at": "2027-02-09T19:00:00Z",
                    "time_zone": "Europe/Moscow",
                    "seats": 64,
                    "table_size": 8,
                    "confirm_by": "2027-02-07T21:00:00Z",
                    "visibility": "members",
                }
            ]
        }
    }

    @model_validator(mode="after")
    def _order(self) -> "EventCreate":
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class EventUpdate(EventFields):
    title: Keep[str] = Field(default=None, min_length=1, max_length=200)
    description: Keep[str] = Field(default=None, max_length=10000)
    venue_name: Keep[str] = Field(default=None, max_length=200)
    venue_address: Keep[str] = Field(default=None, max_length=500)
    starts_at: Keep[datetime] = None
    ends_at: Keep[datetime] = Field(default=None, description="After `starts_at`.")
    time_zone: Keep[str] = Field(default=None, max_length=64, description=ZONE_DESCRIPTION)
    seats: Keep[int] = Field(default=None, ge=1, le=10000)
    table_size: Keep[int] = Field(default=None, ge=2, le=20)
    registration_opens_at: datetime | None = None
    registration_closes_at: datetime | None = None
    confirm_by: datetime | None = None
    speaker_ids: Keep[list[uuid.UUID]] = Field(default=None, max_length=20)
    timepad_event_id: int | None = Field(default=None, ge=1, le=2**53)
    visibility: Keep[EventVisibility] = None
    reminder_offsets_minutes: Keep[list[ReminderOffset]] = Field(
        default=None, max_length=5, description=REMINDER_DESCRIPTION
    )

    model_config = {"json_schema_extra": {"examples": [{"seats": 72, "venue_name": "Hall B"}]}}


class EventTransition(InputSchema):
    status: EventStatus = Field(description="The status to move to.")

    model_config = {"json_schema_extra": {"examples": [{"status": "registration_open"}]}}


class EventCounts(ReadSchema):
    seats: int
    available: int = Field(description="Seats nobody holds (confirmed, checked in, offered).")
    confirmed: int
    pending: int
    offered: int
    waitlisted: int
    checked_in: int
    no_show: int
    cancelled: int


class PublicEventRead(ReadSchema):
    """What anyone may read of a public event: the programme, never who comes."""

    id: uuid.UUID
    title: str
    description: str
    venue_name: str
    venue_address: str
    starts_at: UTCTimestamp
    ends_at: UTCTimestamp
    time_zone: str
    status: EventStatus
    registration_opens_at: UTCTimestamp | None
    registration_closes_at: UTCTimestamp | None


class EventRead(PublicEventRead):
    seats: int
    table_size: int
    confirm_by: UTCTimestamp | None
    speaker_ids: list[uuid.UUID]
    timepad_event_id: int | None
    visibility: EventVisibility
    reminder_offsets_minutes: list[int]
    seats_available: int
    version: int
    created_at: UTCTimestamp
    updated_at: UTCTimestamp
