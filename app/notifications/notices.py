"""Which events e-mail whom, and with which template.

A notice names an event type, finds the recipients (member ids) when the event is fanned
out, and gathers the template's values when the e-mail is sent, from the state at that moment
(``None``: nothing to say any more). The texts are Jinja2 templates in ``templates/<lang>/``
(``templating.py``); ``kind`` says whether the member can turn the e-mail off. A context may
add ``calendar``, the bytes of an ``.ics`` invitation sent as an attachment.
"""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.applications import events as application_events
from app.applications import service as application_service
from app.auth import events as account_events
from app.auth import links
from app.cases import events as case_events
from app.cases import service as cases_service
from app.core import calendar
from app.core.config import Settings
from app.events import events as event_events
from app.models.event import Event
from app.models.member import Member, Role
from app.models.notification import NextEventGuest, NotificationKind
from app.models.outbox import OutboxEvent
from app.models.registration import Registration, RegistrationStatus
from app.models.token import LinkPurpose
from app.notifications import repository
from app.registrations import events as registration_events
from app.registrations import service as registrations_service
from app.surveys import events as survey_events
from app.surveys import service as surveys_service
from app.tables import events as seating_events
from app.tables import service as tables_service
from app.webhooks.events import SUBSCRIPTION_DISABLED

Recipients = Callable[[AsyncSession, OutboxEvent], Awaitable[list[uuid.UUID]]]
Values = dict[str, Any]
# None means: nothing to say any more (the state changed since the event). The last argument
# is the recipient: a Member, or for a notice with ``guests`` possibly a NextEventGuest.
Context = Callable[[AsyncSession, OutboxEvent, Settings, Any], Awaitable[Values | None]]

R = RegistrationStatus
# The fields of an event whose change its registrants hear about.
MOVED_FIELDS = {"starts_at": "time", "ends_at": "time", "time_zone": "time"}
VENUE_FIELDS = {"venue_name": "venue", "venue_address": "venue"}


@dataclass(frozen=True)
class Notice:
    event_type: str
    template: str
    recipients: Recipients
    context: Context
    kind: NotificationKind = NotificationKind.transactional
    # Which events of the type this notice is for (e.g. only approvals), judged on the data.
    applies: Callable[[dict[str, object]], bool] = lambda data: True
    # Recipients may be guests without an account (the next-meeting list), not only members.
    guests: bool = False


def _web(settings: Settings, path: str) -> str:
    return f"{settings.web_app_url.rstrip('/')}{path}"


# -- admins ------------------------------------------------------------------------------------


async def _admins(session: AsyncSession, event: OutboxEvent) -> list[uuid.UUID]:
    return await repository.members_with_role(session, Role.admin)


async def _subscription_disabled(
    session: AsyncSession, event: OutboxEvent, settings: Settings, member: Member
) -> Values | None:
    url = await repository.subscription_url(session, event.subject_id)
    if url is None:
        return None
    return {
        "url": url,
        "reason": str(event.data.get("reason", "")),
        "subscription_id": str(event.subject_id),
    }


SUBSCRIPTION_DISABLED_NOTICE = Notice(
    SUBSCRIPTION_DISABLED.name, "subscription_disabled", _admins, _subscription_disabled
)


# -- applications ------------------------------------------------------------------------------


async def _applicant(session: AsyncSession, event: OutboxEvent) -> list[uuid.UUID]:
    member_id = await application_service.owner_of(session, event.subject_id)
    return [member_id] if member_id else []


async def _decision(
    session: AsyncSession, event: OutboxEvent, settings: Settings, member: Member
) -> Values | None:
    decision = await repository.application_decision(session, event.subject_id)
    # A decision changed since (an admin overrode the rule): only the current one is told.
    if decision is None or decision[0] != event.data.get("status"):
        return None
    return {"reason": decision[1] or "", "web_app_url": settings.web_app_url}


async def _welcome(
    session: AsyncSession, event: OutboxEvent, settings: Settings, member: Member
) -> Values | None:
    # Someone approved without a password yet (imported) is welcomed by the invitation sent
    # with the approval, which carries their set-password link: one e-mail, not two.
    if member.password_hash is None:
        return None
    return await _decision(session, event, settings, member)


def _decided(status: str) -> Callable[[dict[str, object]], bool]:
    return lambda data: data.get("status") == status


DECIDED = application_events.DECIDED.name
APPROVED_NOTICE = Notice(
    DECIDED, "application_approved", _applicant, _welcome, applies=_decided("approved")
)
REJECTED_NOTICE = Notice(
    DECIDED, "application_rejected", _applicant, _decision, applies=_decided("rejected")
)
WAITLISTED_NOTICE = Notice(
    DECIDED, "application_waitlisted", _applicant, _decision, applies=_decided("waitlisted")
)


# -- registrations: the whole story of one place -----------------------------------------------


async def _registrant(session: AsyncSession, event: OutboxEvent) -> list[uuid.UUID]:
    member_id = await repository.registration_member(session, event.subject_id)
    return [member_id] if member_id else []


def _event_values(settings: Settings, event: Event) -> Values:
    return {
        "event": event.title,
        "starts_at": event.starts_at,
        "ends_at": event.ends_at,
        "time_zone": event.time_zone,
        "venue": calendar.venue_of(event),
        "link": _web(settings, f"/events/{event.id}"),
        "events_link": _web(settings, "/events"),
    }


def _place_values(
    settings: Settings, event: Event, registration: Registration, member: Member
) -> Values:
    return {
        **_event_values(settings, event),
        "cancel_link": _web(settings, f"/registrations/{registration.id}"),
        "calendar": calendar.invitation(settings, event, registration, member.email),
    }


async def _registration(
    session: AsyncSession, event: OutboxEvent, *statuses: RegistrationStatus
) -> tuple[Registration, Event] | None:
    """The registration and its event, if the registration is still in one of these."""
    found = await repository.registration_with_event(session, event.subject_id)
    if found is None or found[0].status not in statuses:
        return None
    return found


async def _confirmation(
    session: AsyncSession, event: OutboxEvent, settings: Settings, member: Member
) -> Values | None:
    # Already confirmed or cancelled by the time the e-mail goes: nothing to ask any more.
    found = await _registration(session, event, R.pending_confirmation)
    if found is None:
        return None
    registration, row = found
    token = registrations_service.confirmation_link_token(settings, registration, datetime.now(UTC))
    return {
        **_event_values(settings, row),
        "confirm_by": row.confirm_by,
        "link": _web(settings, f"/registrations/confirm?token={token}"),
    }


async def _confirmed(
    session: AsyncSession, event: OutboxEvent, settings: Settings, member: Member
) -> Values | None:
    found = await _registration(session, event, R.confirmed, R.checked_in)
    if found is None:
        return None
    return _place_values(settings, found[1], found[0], member)


async def _waitlisted(
    session: AsyncSession, event: OutboxEvent, settings: Settings, member: Member
) -> Values | None:
    found = await _registration(session, event, R.waitlisted)
    if found is None:
        return None
    registration, row = found
    return {
        **_event_values(settings, row),
        "position": await repository.place_in_line(session, registration),
        "link": _web(settings, f"/registrations/{registration.id}"),
    }


async def _offer(
    session: AsyncSession, event: OutboxEvent, settings: Settings, member: Member
) -> Values | None:
    found = await _registration(session, event, R.offered)
    if found is None:
        return None
    registration, row = found
    return {
        **_event_values(settings, row),
        "expires_at": registration.offer_expires_at,
        "link": _web(settings, f"/registrations/{registration.id}"),
    }


async def _cancelled(
    session: AsyncSession, event: OutboxEvent, settings: Settings, member: Member
) -> Values | None:
    found = await _registration(session, event, R.cancelled)
    if found is None:
        return None
    registration, row = found
    values = {**_event_values(settings, row), "reason": str(event.data.get("reason", ""))}
    if registration.confirmed_at is not None:  # it was in their calendar: take it out
        values["calendar"] = calendar.invitation(
            settings, row, registration, member.email, cancelled=True
        )
    return values


def _reason(*reasons: str) -> Callable[[dict[str, object]], bool]:
    return lambda data: data.get("reason") in reasons


CREATED = registration_events.CREATED.name
CANCELLED = registration_events.CANCELLED.name
CONFIRMATION_NOTICE = Notice(CREATED, "registration_created", _registrant, _confirmation)
CONFIRMED_NOTICE = Notice(
    registration_events.CONFIRMED.name, "registration_confirmed", _registrant, _confirmed
)
WAITLIST_NOTICE = Notice(
    registration_events.WAITLISTED.name, "registration_waitlisted", _registrant, _waitlisted
)
OFFER_NOTICE = Notice(registration_events.OFFERED.name, "registration_offered", _registrant, _offer)
OFFER_EXPIRED_NOTICE = Notice(
    CANCELLED,
    "registration_offer_expired",
    _registrant,
    _cancelled,
    applies=_reason("offer_expired"),
)
CANCELLED_NOTICE = Notice(
    CANCELLED,
    "registration_cancelled",
    _registrant,
    _cancelled,
    applies=_reason("by_member", "by_admin", "not_confirmed", "timepad"),
)
EVENT_CANCELLED_NOTICE = Notice(
    CANCELLED, "event_cancelled", _registrant, _cancelled, applies=_reason("event_cancelled")
)


async def _reminder(
    session: AsyncSession, event: OutboxEvent, settings: Settings, member: Member
) -> Values | None:
    found = await _registration(session, event, R.confirmed)
    if found is None or found[1].starts_at <= datetime.now(UTC):
        return None
    return _place_values(settings, found[1], found[0], member)


REMINDER_NOTICE = Notice(
    registration_events.REMINDER_DUE.name,
    "event_reminder",
    _registrant,
    _reminder,
    kind=NotificationKind.reminders,
)


# -- the event itself moved ----------------------------------------------------------------------

ACTIVE_PLACES = (R.pending_confirmation, R.confirmed, R.waitlisted, R.offered)


def _what_moved(data: dict[str, object]) -> set[str]:
    fields = data.get("fields")
    names = fields if isinstance(fields, list) else []
    return {({**MOVED_FIELDS, **VENUE_FIELDS}).get(str(n), "") for n in names} - {""}


async def _registered(session: AsyncSession, event: OutboxEvent) -> list[uuid.UUID]:
    return await repository.registered_members(session, event.subject_id, ACTIVE_PLACES)


async def _event_changed(
    session: AsyncSession, event: OutboxEvent, settings: Settings, member: Member
) -> Values | None:
    row = await repository.event(session, event.subject_id)
    registration = await repository.registration_of(session, event.subject_id, member.id)
    if row is None or registration is None or registration.status not in ACTIVE_PLACES:
        return None
    attending = registration.status == R.confirmed
    values = {
        **_event_values(settings, row),
        "changed": sorted(_what_moved(event.data)),
        "attending": attending,
    }
    if attending:
        values["link"] = _web(settings, f"/registrations/{registration.id}")
        values["calendar"] = calendar.invitation(settings, row, registration, member.email)
    return values


EVENT_CHANGED_NOTICE = Notice(
    event_events.EVENT_UPDATED.name,
    "event_changed",
    _registered,
    _event_changed,
    applies=lambda data: bool(_what_moved(data)),
)


# -- the next meeting opened -------------------------------------------------------------------


async def _waiting_for_next(session: AsyncSession, event: OutboxEvent) -> list[uuid.UUID]:
    # Run at fan-out, in its transaction: the requests are used up with the deliveries made.
    return await registrations_service.claim_next_event_requests(
        session, event.subject_id, event.occurred_at
    )


async def _next_event(
    session: AsyncSession, event: OutboxEvent, settings: Settings, member: Member
) -> Values | None:
    row = await repository.event(session, event.subject_id)
    if row is None or row.status != "registration_open":  # closed or cancelled since
        return None
    return _event_values(settings, row)


NEXT_EVENT_NOTICE = Notice(
    event_events.EVENT_REGISTRATION_OPENED.name,
    "next_event_opened",
    _waiting_for_next,
    _next_event,
    kind=NotificationKind.next_event,
    guests=True,
)


async def _the_guest(session: AsyncSession, event: OutboxEvent) -> list[uuid.UUID]:
    return [event.subject_id]


async def _guest_link(
    session: AsyncSession, event: OutboxEvent, settings: Settings, guest: NextEventGuest
) -> Values | None:
    if not isinstance(guest, NextEventGuest) or guest.verified_at is not None:
        return None  # confirmed already (or not a guest's): nothing to prove
    token = registrations_service.guest_confirm_token(settings, guest)
    return {
        "link": _web(settings, f"/next-meeting/confirm?token={token}"),
        "days": registrations_service.GUEST_LINK_DAYS,
    }


GUEST_ASKED_NOTICE = Notice(
    registration_events.NEXT_EVENT_GUEST_ASKED.name,
    "next_event_guest_confirm",
    _the_guest,
    _guest_link,
    guests=True,
)


# -- organisers' messages ----------------------------------------------------------------------


async def _message_audience(session: AsyncSession, event: OutboxEvent) -> list[uuid.UUID]:
    return await tables_service.message_recipients(session, event.subject_id)


async def _message(
    session: AsyncSession, event: OutboxEvent, settings: Settings, member: Member
) -> Values | None:
    found = await tables_service.message_for_email(session, event.subject_id)
    if found is None:
        return None
    message, row = found
    return {**_event_values(settings, row), "subject": message.subject, "message": message.body}


MESSAGE_NOTICE = Notice(
    seating_events.EVENT_MESSAGE_SENT.name,
    "event_message",
    _message_audience,
    _message,
    kind=NotificationKind.messages,
)


# -- the outcome loop --------------------------------------------------------------------------


async def _case_author(session: AsyncSession, event: OutboxEvent) -> list[uuid.UUID]:
    found = await cases_service.outcome_request(session, event.subject_id)
    return [found[0].author_id] if found else []


async def _outcome_request(
    session: AsyncSession, event: OutboxEvent, settings: Settings, member: Member
) -> Values | None:
    found = await cases_service.outcome_request(session, event.subject_id)
    if found is None or found[0].author_id != member.id:  # reported (or withdrawn) since
        return None
    case, row = found
    return {
        **_event_values(settings, row),
        "case": case.title,
        "link": _web(settings, f"/cases/{case.id}/outcome"),
    }


OUTCOME_REQUEST_NOTICE = Notice(
    case_events.OUTCOME_REQUESTED.name,
    "case_outcome_request",
    _case_author,
    _outcome_request,
    kind=NotificationKind.reminders,
)


# -- surveys and seating -----------------------------------------------------------------------


async def _not_answered(session: AsyncSession, event: OutboxEvent) -> list[uuid.UUID]:
    # Read when the event is fanned out: whoever answered in the meantime is spared.
    return await surveys_service.pending_invitees(session, event.subject_id)


async def _survey(
    session: AsyncSession, event: OutboxEvent, settings: Settings, member: Member
) -> Values | None:
    found = await surveys_service.invitation(session, event.subject_id)
    if found is None:  # closed since: nothing to answer any more
        return None
    title, closes_at = found
    return {
        "survey": title,
        "closes_at": closes_at,
        "time_zone": settings.community_time_zone,
        "anonymous": bool(event.data.get("anonymous")),
        "link": _web(settings, f"/surveys/{event.subject_id}"),
    }


SURVEY_INVITATION_NOTICE = Notice(
    survey_events.SURVEY_OPENED.name,
    "survey_invitation",
    _not_answered,
    _survey,
    kind=NotificationKind.surveys,
)
SURVEY_REMINDER_NOTICE = Notice(
    survey_events.SURVEY_REMINDED.name,
    "survey_reminder",
    _not_answered,
    _survey,
    kind=NotificationKind.surveys,
)


async def _seated(session: AsyncSession, event: OutboxEvent) -> list[uuid.UUID]:
    # Read when the event is fanned out: a re-seating published since mails its own people.
    return await repository.seated_members(session, uuid.UUID(str(event.data["event_id"])))


async def _seating(
    session: AsyncSession, event: OutboxEvent, settings: Settings, member: Member
) -> Values | None:
    event_id = uuid.UUID(str(event.data["event_id"]))
    row = await repository.event(session, event_id)
    if row is None:
        return None
    return {**_event_values(settings, row), "link": _web(settings, f"/events/{event_id}/my-table")}


SEATING_NOTICE = Notice(
    seating_events.SEATING_PUBLISHED.name, "seating_published", _seated, _seating
)


# -- accounts ----------------------------------------------------------------------------------


async def _account(session: AsyncSession, event: OutboxEvent) -> list[uuid.UUID]:
    return [event.subject_id]


def _account_link(purpose: LinkPurpose) -> Context:
    async def context(
        session: AsyncSession, event: OutboxEvent, settings: Settings, member: Member
    ) -> Values | None:
        # The newest live link of the kind, made now: none (used, expired, or the address or
        # password changed since) means there is nothing to send any more.
        link = await links.newest_live(session, member, purpose, datetime.now(UTC))
        if link is None:
            return None
        return {
            "link": links.url_of(settings, link),
            "expires_at": link.expires_at,
            "time_zone": settings.community_time_zone,
        }

    return context


VERIFICATION_NOTICE = Notice(
    account_events.VERIFICATION_REQUESTED.name,
    "verify_email",
    _account,
    _account_link(LinkPurpose.verify_email),
)
SIGNUP_ATTEMPT_NOTICE = Notice(
    account_events.SIGNUP_ATTEMPTED.name,
    "signup_attempt",
    _account,
    _account_link(LinkPurpose.password_reset),
)
INVITATION_NOTICE = Notice(
    account_events.INVITED.name, "invitation", _account, _account_link(LinkPurpose.invitation)
)
PASSWORD_RESET_NOTICE = Notice(
    account_events.PASSWORD_RESET_REQUESTED.name,
    "password_reset",
    _account,
    _account_link(LinkPurpose.password_reset),
)

ALL_NOTICES = (
    VERIFICATION_NOTICE,
    SIGNUP_ATTEMPT_NOTICE,
    INVITATION_NOTICE,
    PASSWORD_RESET_NOTICE,
    SUBSCRIPTION_DISABLED_NOTICE,
    APPROVED_NOTICE,
    REJECTED_NOTICE,
    WAITLISTED_NOTICE,
    CONFIRMATION_NOTICE,
    CONFIRMED_NOTICE,
    WAITLIST_NOTICE,
    OFFER_NOTICE,
    OFFER_EXPIRED_NOTICE,
    CANCELLED_NOTICE,
    EVENT_CANCELLED_NOTICE,
    REMINDER_NOTICE,
    EVENT_CHANGED_NOTICE,
    OUTCOME_REQUEST_NOTICE,
    NEXT_EVENT_NOTICE,
    GUEST_ASKED_NOTICE,
    MESSAGE_NOTICE,
    SURVEY_INVITATION_NOTICE,
    SURVEY_REMINDER_NOTICE,
    SEATING_NOTICE,
)


def notice_for(event_type: str, data: dict[str, object]) -> Notice | None:
    """The notice for this event, if it mails anyone (at most one applies to an event)."""
    return next((n for n in ALL_NOTICES if n.event_type == event_type and n.applies(data)), None)
