"""Event types of registrations: the registration, its event and status; never who it is."""

from datetime import datetime

from app.core.outbox import EventData, define_event


class RegistrationChanged(EventData):
    event_id: str
    status: str


class RegistrationWaitlisted(RegistrationChanged):
    waitlist_position: int


class RegistrationOffered(RegistrationChanged):
    offer_expires_at: datetime


class RegistrationCancelled(RegistrationChanged):
    reason: str


class RegistrationReminderDue(RegistrationChanged):
    offset_minutes: int


def _define(
    name: str, data: type[RegistrationChanged], description: str, *, internal: bool = False
):
    return define_event(
        name, subject_type="registration", data=data, description=description, internal=internal
    )


CREATED = _define(
    "registration.created",
    RegistrationChanged,
    "Someone registered; the registration waits for its second confirmation.",
)
CONFIRMED = _define(
    "registration.confirmed", RegistrationChanged, "A registration was confirmed and holds a seat."
)
WAITLISTED = _define(
    "registration.waitlisted",
    RegistrationWaitlisted,
    "A confirmation found no free seat: the registration joined the waiting "
    "list at `waitlist_position`.",
)
OFFERED = _define(
    "registration.offered",
    RegistrationOffered,
    "A seat was freed and offered to the next on the waiting list, until `offer_expires_at`.",
)
CANCELLED = _define(
    "registration.cancelled",
    RegistrationCancelled,
    "A registration was cancelled; `reason` is one of `by_member`, `by_admin`, "
    "`not_confirmed`, `offer_expired`, `event_cancelled`, `event_over`, "
    "`timepad`.",
)
CHECKED_IN = _define(
    "registration.checked_in",
    RegistrationChanged,
    "The person arrived and was checked in at the door.",
)
NO_SHOW = _define(
    "registration.no_show",
    RegistrationChanged,
    "The event is over and the confirmed person never checked in.",
)
# Internal: moves an e-mail, never offered to webhook subscribers.
REMINDER_DUE = _define(
    "registration.reminder_due",
    RegistrationReminderDue,
    "A confirmed attendee's reminder, `offset_minutes` before the event, is due.",
    internal=True,
)


class GuestAsked(EventData):
    """A guest's request to hear about the next meeting: ``id`` is the guest's row."""


NEXT_EVENT_GUEST_ASKED = define_event(
    "next_event.guest_asked",
    subject_type="next_event_guest",
    data=GuestAsked,
    description="Someone without an account asked to hear about the next meeting; the link "
    "that proves their address is due.",
    internal=True,
)
