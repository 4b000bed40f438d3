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
