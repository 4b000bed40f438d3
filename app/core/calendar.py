"""Calendars (RFC 5545): the e-mails' invitations and the members' feeds, by `icalendar`.

icalendar because it is the maintained RFC 5545 implementation for Python (folding, escaping,
time zones, parsing back): a hand-made VCALENDAR gets line folding and escaping wrong. Each
registration has one UID for its life, so every update (SEQUENCE raised with the event's
version) and the cancellation replace the same entry in the person's calendar.
"""

from datetime import UTC, datetime
from email.utils import parseaddr

from icalendar import Calendar, vCalAddress, vText
from icalendar import Event as CalendarEvent

from app.core.config import Settings
from app.models.event import Event
from app.models.registration import Registration

PRODUCT = "-//Digital Leaders//Community API//EN"


def _domain(settings: Settings) -> str:
    return parseaddr(settings.mail_from)[1].rpartition("@")[2] or "digital-leaders.invalid"


def uid_of(settings: Settings, registration: Registration) -> str:
    return f"registration-{registration.id}@{_domain(settings)}"


def venue_of(event: Event) -> str:
    return ", ".join(part for part in (event.venue_name, event.venue_address) if part)


def _entry(
    event: Event, uid: str, url: str, *, cancelled: bool = False, now: datetime | None = None
) -> CalendarEvent:
    entry = CalendarEvent()
    entry.add("uid", uid)
    entry.add("dtstamp", now or datetime.now(UTC))
    # The event's version rises with every change of it, so it serves as the sequence.
    entry.add("sequence", event.version)
    entry.add("dtstart", event.starts_at.astimezone(UTC))
    entry.add("dtend", event.ends_at.astimezone(UTC))
    entry.add("summary", event.title)
    if venue_of(event):
        entry.add("location", venue_of(event))
    entry.add("url", url)
    entry.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    return entry


def invitation(
    settings: Settings,
    event: Event,
    registration: Registration,
    attendee_email: str,
    *,
    cancelled: bool = False,
) -> bytes:
    """One registration's entry: METHOD:REQUEST while it holds, METHOD:CANCEL when it ends."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "REQUEST")
    url = f"{settings.web_app_url.rstrip('/')}/events/{event.id}"
    entry = _entry(event, uid_of(settings, registration), url, cancelled=cancelled)
    organizer = vCalAddress(f"mailto:{parseaddr(settings.mail_from)[1]}")
    organizer.params["cn"] = vText("Digital Leaders")
    entry.add("organizer", organizer)
    attendee = vCalAddress(f"mailto:{attendee_email}")
    attendee.params["partstat"] = vText("DECLINED" if cancelled else "ACCEPTED")
    attendee.params["rsvp"] = vText("FALSE")
    entry.add("attendee", attendee)
    calendar.add_component(entry)
    return calendar.to_ical()


def event_uid(settings: Settings, event: Event) -> str:
    return f"event-{event.id}@{_domain(settings)}"


def feed(
    settings: Settings,
    attending: list[tuple[Registration, Event]],
    listed: list[Event],
    name: str,
) -> bytes:
    """A member's feed: their places (the same entries their e-mails carried) and the
    community's other events."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    now = datetime.now(UTC)
    mine = {event.id for _, event in attending}
    for registration, event in attending:
        url = f"{settings.web_app_url.rstrip('/')}/registrations/{registration.id}"
        calendar.add_component(_entry(event, uid_of(settings, registration), url, now=now))
    for event in listed:
        if event.id not in mine:
            url = f"{settings.web_app_url.rstrip('/')}/events/{event.id}"
            calendar.add_component(_entry(event, event_uid(settings, event), url, now=now))
    return calendar.to_ical()
