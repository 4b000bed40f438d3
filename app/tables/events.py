"""Event types of seating: which event, which plan, how many tables; never who sits where."""

from app.core.outbox import EventData, define_event


class SeatingPublished(EventData):
    event_id: str
    tables: int
    seated: int


SEATING_PUBLISHED = define_event(
    "seating.published",
    subject_type="seating_plan",
    data=SeatingPublished,
    description="An event's seating was published: its tables exist and members see theirs.",
)


class EventMessageSent(EventData):
    event_id: str


# Internal: moves the e-mails of an organisers' message, never offered to webhook subscribers
# (the text is the organiser's, kept in `event_message`).
EVENT_MESSAGE_SENT = define_event(
    "event.message_sent",
    subject_type="event_message",
    data=EventMessageSent,
    description="An organiser sent a message to an event's people.",
    internal=True,
)
