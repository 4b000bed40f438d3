"""Event types of the events domain: thin, no attendee data."""

from typing import Literal

from app.core.outbox import EventData, define_event


class EventChanged(EventData):
    status: Literal[
        "draft", "published", "registration_open", "registration_closed", "completed", "cancelled"
    ]
    starts_at: str
    # On `event.updated`: the names of the fields that changed (`starts_at`, `venue_name`...).
    fields: list[str] = []


EVENT_PUBLISHED = define_event(
    "event.published",
    subject_type="event",
    data=EventChanged,
    description="An event was published (listed to members, or also to the public).",
)
EVENT_REGISTRATION_OPENED = define_event(
    "event.registration_opened",
    subject_type="event",
    data=EventChanged,
    description="Registration for an event opened.",
)
EVENT_REGISTRATION_CLOSED = define_event(
    "event.registration_closed",
    subject_type="event",
    data=EventChanged,
    description="Registration for an event closed.",
)
EVENT_COMPLETED = define_event(
    "event.completed",
    subject_type="event",
    data=EventChanged,
    description="An event took place; unchecked confirmed registrations became no-shows.",
)
EVENT_CANCELLED = define_event(
    "event.cancelled",
    subject_type="event",
    data=EventChanged,
    description="An event was cancelled; every active registration was cancelled with it.",
)
EVENT_UPDATED = define_event(
    "event.updated",
    subject_type="event",
    data=EventChanged,
    description="An event's details (time, venue, seats...) changed.",
)
