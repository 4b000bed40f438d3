"""Which status an event may move to from which (pure)."""

from app.models.event import EventStatus

S = EventStatus
ALLOWED: dict[EventStatus, frozenset[EventStatus]] = {
    S.draft: frozenset({S.published, S.cancelled}),
    S.published: frozenset({S.registration_open, S.cancelled}),
    S.registration_open: frozenset({S.registration_closed, S.cancelled}),
    # Closed registration may reopen (seats added, a date moved) until the event is over.
    S.registration_closed: frozenset({S.registration_open, S.completed, S.cancelled}),
    S.completed: frozenset(),
    S.cancelled: frozenset(),
}
# While registrations can still change: confirmations, offers, cancellations.
ACTIVE = frozenset({S.registration_open, S.registration_closed})


def may_move(current: str, target: str) -> bool:
    return EventStatus(target) in ALLOWED[EventStatus(current)]
