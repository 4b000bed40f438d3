"""Registrations: the double confirmation, the waiting list, check-in, and the event's
status changes that settle them.

Seats: a seat is held by a confirmed, checked-in or offered registration. Taking one is a
conditional update of the event row (``repository.take_seat``); whoever finds none joins the
waiting list, numbered on the same row. A member's confirmation over the API takes its seat or
its place in line by a statement committed on its own (``confirm_seat``), so a rush of
confirmations never queues on the event's row. A freed seat is offered to the first in line
in the same transaction. Lock order is always registration, then event, then the next in line
(SKIP LOCKED), so concurrent requests never deadlock.
"""

import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth import accounts
from app.auth.links import InvalidLink
from app.auth.principal import Principal
from app.auth.service import normalize_email
from app.core import audit, calendar
from app.core.config import Settings
from app.core.context import RequestContext
from app.core.db import on_failure, side_engine
from app.core.errors import (
    Conflict,
    Forbidden,
    IllegalTransition,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
)
from app.core.outbox import EventType, announcement, emit
from app.core.pagination import Page, decode_time_cursor, encode_time_cursor
from app.core.security import (
    calendar_feed_token,
    new_link_salt,
    sign_value,
    token_digest,
    unsign_value,
)
from app.events import service as event_service
from app.events.lifecycle import ACTIVE
from app.events.service import load_visible
from app.models.event import Event, EventStatus
from app.models.member import Role
from app.models.notification import CalendarFeed, NextEventGuest, NextEventRequest
from app.models.outbox import OutboxEvent
from app.models.registration import SEAT_HOLDING, Registration, RegistrationStatus
from app.registrations import events, links, repository
from app.registrations.repository import RegistrationRow
from app.registrations.schemas import (
    AttendanceEntry,
    AttendanceRead,
    CalendarFeedRead,
    GuestNextEventNoticeCreate,
    GuestNextEventNoticeRead,
    NextEventNoticeRead,
    RegistrationAdminRead,
    RegistrationCreate,
    RegistrationRead,
    SourceCount,
    WalkIn,
)

R = RegistrationStatus


class AlreadyCheckedIn(Conflict):
    slug, title = "already-checked-in", "Already checked in"


def is_staff(principal: Principal) -> bool:
    return principal.is_admin or principal.has_role(Role.facilitator)


def view_of(
    registration: Registration | RegistrationRow, name: str | None, *, admin: bool
) -> RegistrationRead:
    base = dict(
        id=registration.id,
        event_id=registration.event_id,
        member_id=registration.member_id,
        attendee_name=name,
        status=R(registration.status),
        source=registration.source,
        utm_source=registration.utm_source,
        utm_medium=registration.utm_medium,
        utm_campaign=registration.utm_campaign,
        waitlist_position=registration.waitlist_position,
        offer_expires_at=registration.offer_expires_at,
        confirmed_at=registration.confirmed_at,
        checked_in_at=registration.checked_in_at,
        cancelled_at=registration.cancelled_at,
        cancel_reason=registration.cancel_reason,
        version=registration.version,
        created_at=registration.created_at,
        updated_at=registration.updated_at,
    )
    if admin:
        return RegistrationAdminRead(
            **base,
            guest_email=registration.guest_email,
            timepad_order_id=registration.timepad_order_id,
            timepad_status=registration.timepad_status,
        )
    return RegistrationRead(**base)


async def _view(
    session: AsyncSession, registration: Registration, principal: Principal | None
) -> RegistrationRead:
    name = await repository.attendee_name(session, registration)
    return view_of(registration, name, admin=principal is not None and principal.is_admin)


def _touch(registration: Registration, status: RegistrationStatus, now: datetime) -> None:
    registration.status = status
    registration.version += 1
    registration.updated_at = now


def registration_data(registration: Registration) -> events.RegistrationChanged:
    return events.RegistrationChanged(
        id=registration.id,
        version=registration.version,
        event_id=str(registration.event_id),
        status=registration.status,
    )


def reopen(registration: Registration, now: datetime) -> None:
    """A cancelled registration made again elsewhere (a Timepad order booked anew)."""
    registration.cancelled_at = None
    registration.cancel_reason = None
    registration.waitlist_position = None
    _touch(registration, R.pending_confirmation, now)


# -- the seat rules ----------------------------------------------------------------------------


async def confirm_seat(
    session: AsyncSession,
    registration: Registration,
    now: datetime,
    *,
    event: Event | None = None,
    side: AsyncEngine | None = None,
) -> None:
    """The second confirmation: a seat if one is free, else the waiting list (in order).

    ``event``, as the caller read it: when it shows no seat free, the waiting list is joined
    without trying. ``side`` (``core.db.side_engine``): the seat or the place in line is taken
    by a statement committed on its own, so the event's row is never held while this request's
    transaction is open. Only for a transaction that has not written the event's row itself
    (the side statement would wait for it)."""
    if registration.status == R.offered:
        registration.confirmed_at = now
        registration.offer_expires_at = None
        _touch(registration, R.confirmed, now)
        emit(session, events.CONFIRMED, registration_data(registration))
        return
    full = event is not None and event.seats_held >= event.seats
    if side is not None:
        # Each outcome is one statement in this transaction: the change with its event.
        if not full and await _hold_seat(session, side, registration, now):
            return
        position = await repository.take_place_in_line(side, registration.event_id)
        changes = _changes(registration, R.waitlisted, now, waitlist_position=position)
        waitlisted = events.RegistrationWaitlisted(
            **_changed_data(registration, changes).model_dump(), waitlist_position=position
        )
        await repository.join_waiting_list(
            session, registration, changes, announcement(events.WAITLISTED, waitlisted)
        )
        return
    if full:
        position = await repository.next_waitlist_position(session, registration.event_id)
        _join_waiting_list(session, registration, position, now)
        return
    # In the transaction, everyone confirming for the event queues on its row from the seat's
    # UPDATE to COMMIT. So the confirmation is written first, as if a seat were free, and the
    # seat is taken by the transaction's last statement: the row is held for the COMMIT only.
    # With no seat free the confirmation is undone and the member joins the waiting list;
    # that costs no lock (an UPDATE matching nothing locks nothing).
    version = registration.version
    announced = _seat_confirmed(session, registration, now)
    await session.flush()
    if await repository.take_seat(session, registration.event_id):
        return
    await session.delete(announced)
    registration.confirmed_at = None
    registration.version = version
    position = await repository.next_waitlist_position(session, registration.event_id)
    _join_waiting_list(session, registration, position, now)


# A seat taken on the side is consumed a few statements later; a hold lasting longer belongs to
# a request that died, and this is how long its seat stays away from the others.
SEAT_HOLD_TTL = timedelta(minutes=2)


async def _hold_seat(
    session: AsyncSession, side: AsyncEngine, registration: Registration, now: datetime
) -> bool:
    """A seat held on the side and consumed in this transaction by the confirmation itself;
    given back if the request fails before its COMMIT lands. False when no seat is free."""
    if not await repository.hold_seat(
        side, registration.event_id, registration.id, now + SEAT_HOLD_TTL
    ):
        return False
    on_failure(session, partial(repository.give_back_seat_hold, side, registration.id))
    changes = _changes(registration, R.confirmed, now, confirmed_at=now)
    announced = announcement(events.CONFIRMED, _changed_data(registration, changes))
    if not await repository.consume_seat_hold(session, registration, changes, announced):
        # Only when this request outlived the hold: the seat went back to the event.
        raise ServiceUnavailable("The confirmation took too long; retry.")
    return True


def _changes(
    registration: Registration, status: RegistrationStatus, now: datetime, **values: Any
) -> dict[str, Any]:
    """The columns a change of status writes (``_touch``'s, and ``values``), for a repository
    statement that writes them with the change's event."""
    return {"status": status, "version": registration.version + 1, "updated_at": now, **values}


def _changed_data(
    registration: Registration, changes: dict[str, Any]
) -> events.RegistrationChanged:
    """``registration_data`` of the registration as ``changes`` leave it."""
    return events.RegistrationChanged(
        id=registration.id,
        version=changes["version"],
        event_id=str(registration.event_id),
        status=changes["status"],
    )


def _seat_confirmed(
    session: AsyncSession, registration: Registration, now: datetime
) -> OutboxEvent:
    registration.confirmed_at = now
    _touch(registration, R.confirmed, now)
    return emit(session, events.CONFIRMED, registration_data(registration))


def _join_waiting_list(
    session: AsyncSession, registration: Registration, position: int, now: datetime
) -> None:
    registration.waitlist_position = position
    _touch(registration, R.waitlisted, now)
    emit(
        session,
        events.WAITLISTED,
        events.RegistrationWaitlisted(
            **registration_data(registration).model_dump(),
            waitlist_position=registration.waitlist_position,
        ),
    )


async def offer_next(
    session: AsyncSession, settings: Settings, event_id: uuid.UUID, now: datetime
) -> Registration | None:
    """Offer a free seat to the first on the waiting list, if the event still takes people."""
    event = await event_service.find(session, event_id)
    if event is None or event.status not in ACTIVE or event.starts_at <= now:
        return None
    candidate = await repository.first_waitlisted(session, event_id)
    if candidate is None or not await repository.take_seat(session, event_id):
        return None
    candidate.offer_expires_at = now + timedelta(hours=settings.registration_offer_hours)
    _touch(candidate, R.offered, now)
    emit(
        session,
        events.OFFERED,
        events.RegistrationOffered(
            **registration_data(candidate).model_dump(), offer_expires_at=candidate.offer_expires_at
        ),
    )
    return candidate


async def cancel_registration(
    session: AsyncSession,
    settings: Settings,
    registration: Registration,
    reason: str,
    now: datetime,
    *,
    offer: bool = True,
) -> None:
    held = registration.status in SEAT_HOLDING
    registration.cancelled_at = now
    registration.cancel_reason = reason
    registration.offer_expires_at = None
    _touch(registration, R.cancelled, now)
    emit(
        session,
        events.CANCELLED,
        events.RegistrationCancelled(**registration_data(registration).model_dump(), reason=reason),
    )
    if held:
        await repository.release_seat(session, registration.event_id)
        if offer:
            await offer_next(session, settings, registration.event_id, now)


# -- member actions ----------------------------------------------------------------------------


async def register(
    session: AsyncSession,
    *,
    principal: Principal,
    event_id: uuid.UUID,
    data: RegistrationCreate,
) -> RegistrationRead:
    if not principal.sees_members:
        raise Forbidden("Only members register for events.")
    event = await load_visible(session, principal, event_id)
    now = datetime.now(UTC)
    _check_open(event, now)
    name = await accounts.require_verified(session, principal.id)
    registration = Registration(event_id=event.id, member_id=principal.id, **data.model_dump())
    created = announcement(events.CREATED, registration_data(registration))
    try:
        await repository.add(session, registration, created)
    except repository.DuplicateRegistration:
        raise Conflict("You are registered for this event already.") from None
    return view_of(registration, name, admin=principal.is_admin)


def _check_open(event: Event, now: datetime) -> None:
    if event.status != EventStatus.registration_open:
        raise Conflict("Registration for this event is not open.")
    if event.registration_opens_at and now < event.registration_opens_at:
        raise Conflict(
            "Registration opens at "
            f"{event.registration_opens_at.isoformat().replace('+00:00', 'Z')}."
        )
    if event.registration_closes_at and now > event.registration_closes_at:
        raise Conflict("Registration has closed.")


async def _own_for_update(
    session: AsyncSession, principal: Principal, registration_id: uuid.UUID
) -> Registration:
    registration = await repository.get_for_update(session, registration_id)
    if registration is None or (registration.member_id != principal.id and not principal.is_admin):
        raise NotFound("No such registration.")
    return registration


async def confirm(
    session: AsyncSession, *, principal: Principal, registration_id: uuid.UUID
) -> RegistrationRead:
    found = await repository.get_to_confirm(session, registration_id)
    if found is None or found[0].member_id != principal.id:
        raise NotFound("No such registration.")
    registration, name, event = found
    await _confirm(session, registration, event)
    return view_of(registration, name, admin=False)


async def _confirm(
    session: AsyncSession, registration: Registration, event: Event | None = None
) -> None:
    """Callers read what their answer needs first: from the seat's UPDATE to COMMIT every
    other confirmation for the event waits on its row (each holding a pooled connection), so
    nothing that can run before it runs after."""
    if registration.status in (R.confirmed, R.waitlisted):
        return  # confirming twice changes nothing
    if registration.status not in (R.pending_confirmation, R.offered):
        raise IllegalTransition(f"A {registration.status} registration cannot be confirmed.")
    if event is None:  # unless the caller read it with the registration
        event = await event_service.find(session, registration.event_id)
    if event is None or event.status not in ACTIVE:
        raise IllegalTransition("This event no longer takes confirmations.")
    await confirm_seat(
        session, registration, datetime.now(UTC), event=event, side=side_engine(session)
    )


async def confirm_by_link(
    session: AsyncSession, settings: Settings, token: str
) -> RegistrationRead:
    """The link in the e-mail: works once (its nonce is rotated), needs no sign-in."""
    try:
        claims = links.verify(settings.jwt_secret, links.CONFIRM, token, datetime.now(UTC))
    except links.InvalidToken:
        raise InvalidInput("This confirmation link is invalid or has expired.") from None
    registration = await repository.get_for_update(session, claims.registration_id)
    if registration is None or registration.link_nonce != claims.nonce:
        raise Conflict("This confirmation link was used already or replaced by a newer one.")
    registration.link_nonce = uuid.uuid4().hex
    name = await repository.attendee_name(session, registration)
    await _confirm(session, registration)
    return view_of(registration, name, admin=False)


def confirmation_link_token(settings: Settings, registration: Registration, now: datetime) -> str:
    expires = now + timedelta(days=settings.confirmation_link_days)
    return links.mint(
        settings.jwt_secret, links.CONFIRM, registration.id, registration.link_nonce, expires
    )


def qr_token(settings: Settings, registration: Registration) -> str:
    return links.mint(settings.jwt_secret, links.CHECK_IN, registration.id, "qr", None)


async def cancel(
    session: AsyncSession,
    settings: Settings,
    *,
    principal: Principal,
    context: RequestContext,
    registration_id: uuid.UUID,
) -> RegistrationRead:
    registration = await _own_for_update(session, principal, registration_id)
    if registration.status == R.cancelled:
        return await _view(session, registration, principal)
    if registration.status in (R.checked_in, R.no_show):
        raise IllegalTransition(f"A {registration.status} registration cannot be cancelled.")
    by_admin = registration.member_id != principal.id
    await cancel_registration(
        session, settings, registration, "by_admin" if by_admin else "by_member", datetime.now(UTC)
    )
    if by_admin:
        audit.record(
            session,
            actor_id=principal.id,
            action="registration.cancelled",
            target_type="registration",
            target_id=registration.id,
            context=context,
        )
    return await _view(session, registration, principal)


async def get(
    session: AsyncSession, settings: Settings, *, principal: Principal, registration_id: uuid.UUID
) -> RegistrationRead:
    registration = await repository.get(session, registration_id)
    if registration is None or (registration.member_id != principal.id and not is_staff(principal)):
        raise NotFound("No such registration.")
    return await _view(session, registration, principal)


async def qr(
    session: AsyncSession, settings: Settings, *, principal: Principal, registration_id: uuid.UUID
) -> str:
    registration = await repository.get(session, registration_id)
    if registration is None or (registration.member_id != principal.id and not principal.is_admin):
        raise NotFound("No such registration.")
    return qr_token(settings, registration)


async def mine(
    session: AsyncSession, principal: Principal, *, cursor: str | None, limit: int
) -> Page[RegistrationRead]:
    sort = "-created_at"
    rows = await repository.list_of_member(
        session, principal.id, after=decode_time_cursor(cursor, sort), limit=limit
    )
    page = rows[:limit]
    next_cursor = (
        encode_time_cursor(sort, page[-1].created_at, page[-1].id) if len(rows) > limit else None
    )
    admin = principal.is_admin
    return Page[RegistrationRead](
        items=[view_of(r, r.attendee_name, admin=admin) for r in page], next_cursor=next_cursor
    )


# -- the door ----------------------------------------------------------------------------------


async def check_in(
    session: AsyncSession,
    settings: Settings,
    *,
    principal: Principal,
    context: RequestContext,
    registration_id: uuid.UUID | None = None,
    token: str | None = None,
    nonce: str,
    event_id: uuid.UUID | None = None,
) -> RegistrationRead:
    if token is not None:
        try:
            claims = links.verify(settings.jwt_secret, links.CHECK_IN, token, datetime.now(UTC))
        except links.InvalidToken:
            raise InvalidInput("This QR code is not one of ours.") from None
        registration_id = claims.registration_id
    assert registration_id is not None
    registration = await repository.get_for_update(session, registration_id)
    if registration is None or (event_id is not None and registration.event_id != event_id):
        raise NotFound("No such registration for this event.")
    now = datetime.now(UTC)
    if registration.status == R.checked_in:
        if registration.check_in_nonce == nonce:
            return await _view(session, registration, principal)  # the same scan, retried
        at = registration.checked_in_at.isoformat() if registration.checked_in_at else ""
        raise AlreadyCheckedIn(f"Already checked in at {at.replace('+00:00', 'Z')}.")
    if registration.status != R.confirmed:
        raise IllegalTransition(
            f"Only a confirmed registration checks in; this one is {registration.status}."
        )
    event = await event_service.find(session, registration.event_id)
    if event is None or event.status not in ACTIVE:
        raise IllegalTransition("Check-in is possible while the event takes place.")
    registration.checked_in_at = now
    registration.checked_in_by = principal.id
    registration.check_in_nonce = nonce
    _touch(registration, R.checked_in, now)
    emit(session, events.CHECKED_IN, registration_data(registration))
    audit.record(
        session,
        actor_id=principal.id,
        action="registration.checked_in",
        target_type="registration",
        target_id=registration.id,
        context=context,
    )
    return await _view(session, registration, principal)


# -- staff lists and stats ---------------------------------------------------------------------


async def list_for_event(
    session: AsyncSession,
    *,
    principal: Principal,
    event_id: uuid.UUID,
    status: RegistrationStatus | None,
    cursor: str | None,
    limit: int,
) -> Page[RegistrationAdminRead | RegistrationRead]:
    await load_visible(session, principal, event_id)
    sort = "created_at"
    rows = await repository.list_for_event(
        session, event_id, status=status, after=decode_time_cursor(cursor, sort), limit=limit
    )
    page = rows[:limit]
    next_cursor = (
        encode_time_cursor(sort, page[-1][0].created_at, page[-1][0].id)
        if len(rows) > limit
        else None
    )
    # The page is typed with both shapes: typed Page[RegistrationRead], it would serialise an
    # admin's items as the narrower model and drop the guest e-mail and Timepad fields.
    return Page[RegistrationAdminRead | RegistrationRead](
        # A guest (no account) is named by what Timepad gave: the name, else the address.
        items=[
            view_of(
                r,
                name if r.member_id else (r.guest_name or r.guest_email),
                admin=principal.is_admin,
            )
            for r, name in page
        ],
        next_cursor=next_cursor,
    )


async def source_stats(session: AsyncSession, event_id: uuid.UUID) -> list[SourceCount]:
    if await event_service.find(session, event_id) is None:
        raise NotFound("No such event.")
    totals: dict[tuple[str | None, str | None, str | None], SourceCount] = {}
    for source, utm_source, utm_campaign, status, count in await repository.source_counts(
        session, event_id
    ):
        key = (source, utm_source, utm_campaign)
        entry = totals.setdefault(
            key,
            SourceCount(
                source=source,
                utm_source=utm_source,
                utm_campaign=utm_campaign,
                registrations=0,
                confirmed=0,
                checked_in=0,
            ),
        )
        entry.registrations += count
        if status in (R.confirmed, R.checked_in):
            entry.confirmed += count
        if status == R.checked_in:
            entry.checked_in += count
    return sorted(totals.values(), key=lambda e: (-e.registrations, str(e.source)))


async def attendance(session: AsyncSession, member_id: uuid.UUID) -> AttendanceRead:
    rows = await repository.attendance_of(session, member_id)
    entries = [
        AttendanceEntry(
            event_id=r.event_id,
            event_title=title,
            starts_at=starts_at,
            registration_id=r.id,
            status=R(r.status),
        )
        for r, title, starts_at in rows
    ]
    return AttendanceRead(
        member_id=member_id,
        registered=len(entries),
        attended=sum(e.status == R.checked_in for e in entries),
        no_show=sum(e.status == R.no_show for e in entries),
        events=entries,
    )


# -- the event's status, which settles its registrations ---------------------------------------


@event_service.status_changing.follow
async def settle_registrations(
    session: AsyncSession, settings: Settings, event: Event, status: EventStatus, now: datetime
) -> None:
    """Cancelling an event cancels every registration and frees its seats; completing it turns
    unchecked confirmed registrations into no-shows and ends the rest."""
    if status == EventStatus.cancelled:
        for registration in await repository.with_status(
            session, event.id, [s for s in R if s != R.cancelled]
        ):
            await cancel_registration(
                session, settings, registration, "event_cancelled", now, offer=False
            )
        await repository.release_all_seats(session, event.id)
    elif status == EventStatus.completed:
        for registration in await repository.with_status(
            session, event.id, [R.confirmed, R.pending_confirmation, R.waitlisted, R.offered]
        ):
            if registration.status == R.confirmed:
                _touch(registration, R.no_show, now)
                emit(session, events.NO_SHOW, registration_data(registration))
            else:
                await cancel_registration(
                    session, settings, registration, "event_over", now, offer=False
                )


# -- the door: new seats, admitting from the waiting list, walk-ins --------------------------


@event_service.seats_raised.follow
async def offer_new_seats(
    session: AsyncSession, settings: Settings, event: Event, now: datetime
) -> None:
    """New seats go to the head of the waiting list at once, as a freed seat does."""
    while await offer_next(session, settings, event.id, now) is not None:
        pass


async def _seat_at_the_door(
    session: AsyncSession, admin: Principal, context: RequestContext, event_id: uuid.UUID
) -> None:
    """A seat for someone an admin lets in; with none free the room gets one more (audited):
    the seat count grows with the admission, never past it."""
    if await repository.take_seat(session, event_id):
        return
    await repository.add_seat(session, event_id)
    audit.record(
        session,
        actor_id=admin.id,
        action="event.seats_raised",
        target_type="event",
        target_id=event_id,
        context=context,
        details={"by": 1, "reason": "admitted at the door"},
    )
    if not await repository.take_seat(session, event_id):  # the event row is locked by now
        raise Conflict("No seat could be taken; try again.")


async def _let_in(
    session: AsyncSession,
    admin: Principal,
    context: RequestContext,
    registration: Registration,
    status: RegistrationStatus,
    event_type: EventType[events.RegistrationChanged],
    action: str,
    now: datetime,
) -> RegistrationRead:
    """The registration moved by an admin at the door: announced and audited."""
    _touch(registration, status, now)
    emit(session, event_type, registration_data(registration))
    audit.record(
        session,
        actor_id=admin.id,
        action=f"registration.{action}",
        target_type="registration",
        target_id=registration.id,
        context=context,
    )
    await session.flush()
    return await _view(session, registration, admin)


async def _door_event(session: AsyncSession, event_id: uuid.UUID) -> Event:
    event = await event_service.find(session, event_id)
    if event is None:
        raise NotFound("No such event.")
    if event.status not in ACTIVE:
        raise IllegalTransition(f"Nobody is admitted to an event that is {event.status}.")
    return event


async def admit(
    session: AsyncSession,
    *,
    admin: Principal,
    context: RequestContext,
    registration_id: uuid.UUID,
) -> RegistrationRead:
    """Confirm someone from the waiting list (or still to confirm) directly, seat or not."""
    registration = await repository.get_for_update(session, registration_id)
    if registration is None:
        raise NotFound("No such registration.")
    await _door_event(session, registration.event_id)
    now = datetime.now(UTC)
    if registration.status == R.offered:
        registration.offer_expires_at = None  # the offer held a seat already
    elif registration.status in (R.waitlisted, R.pending_confirmation):
        await _seat_at_the_door(session, admin, context, registration.event_id)
    else:
        raise IllegalTransition(f"A {registration.status} registration is not admitted.")
    registration.confirmed_at = now
    registration.waitlist_position = None
    return await _let_in(
        session, admin, context, registration, R.confirmed, events.CONFIRMED, "admitted", now
    )


async def walk_in(
    session: AsyncSession,
    *,
    admin: Principal,
    context: RequestContext,
    event_id: uuid.UUID,
    data: WalkIn,
) -> RegistrationRead:
    """Register someone who came to the door (a member, or a guest by name) checked in: a seat
    is taken, or added when the room is full."""
    event = await _door_event(session, event_id)
    now = datetime.now(UTC)
    if data.member_id is not None:
        if await repository.get_member(session, data.member_id) is None:
            raise NotFound("No such member.")
        registration = await repository.of_member(
            session, event.id, data.member_id, for_update=True
        )
    elif data.guest_email:
        registration = await repository.of_guest(session, event.id, data.guest_email)
    else:
        registration = None
    if registration is not None and registration.status == R.checked_in:
        raise AlreadyCheckedIn("This person is checked in already.")
    if registration is None:
        registration = Registration(
            event_id=event.id,
            member_id=data.member_id,
            guest_name=data.guest_name if data.member_id is None else None,
            guest_email=data.guest_email if data.member_id is None else None,
            source="walk_in",
        )
        try:
            await repository.add(session, registration)
        except repository.DuplicateRegistration:
            raise Conflict("This person was registered a moment ago; retry.") from None
        emit(session, events.CREATED, registration_data(registration))
    if registration.status not in (R.confirmed, R.offered):  # those hold their seat already
        await _seat_at_the_door(session, admin, context, event.id)
    registration.confirmed_at = registration.confirmed_at or now
    registration.offer_expires_at = None
    registration.waitlist_position = None
    registration.cancelled_at = None
    registration.cancel_reason = None
    registration.checked_in_at = now
    registration.checked_in_by = admin.id
    return await _let_in(
        session, admin, context, registration, R.checked_in, events.CHECKED_IN, "walked_in", now
    )


# -- registrations that arrive from a ticketing partner (Timepad) ----------------------------


async def by_timepad_order(session: AsyncSession, order_id: int) -> Registration | None:
    return await repository.by_timepad_order(session, order_id)


async def find_or_add_for_order(
    session: AsyncSession,
    event_id: uuid.UUID,
    *,
    email: str | None,
    name: str | None,
    order_id: int,
) -> Registration | None:
    """The registration a partner's order stands for: the member's own when the address is an
    account's, else the guest's; a new one (announced) when there is none yet; None when the
    order names nobody."""
    member = None
    if email:
        # Only an address its owner proved: an order is never matched to someone who merely
        # signed up with that address (it stays a guest's until the owner verifies).
        member = await repository.member_by_email(session, normalize_email(email))
        if member is not None and member.email_verified_at is None:
            member = None
    if member is not None:
        existing = await repository.of_member(session, event_id, member.id, for_update=True)
    elif email:
        existing = await repository.of_guest(session, event_id, email)
    else:
        return None  # nobody to register
    if existing is not None:
        return existing
    registration = Registration(
        event_id=event_id,
        member_id=member.id if member else None,
        guest_email=None if member else email,
        guest_name=None if member else name,
        source="timepad",
        timepad_order_id=order_id,
    )
    await repository.add(session, registration)
    emit(session, events.CREATED, registration_data(registration))
    return registration


# -- scheduled jobs ----------------------------------------------------------------------------

BATCH = 200


async def expire_offers(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Offers not taken in time lapse; each lapsed seat goes to the next in line."""
    expired = await repository.expired_offers(session, now, BATCH)
    for registration in expired:
        await cancel_registration(session, settings, registration, "offer_expired", now)
    return len(expired)


async def release_seat_holds(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Seats held for confirmations that never committed (the request failed and could not
    give its seat back, or its process died) return to their events and go to the waiting
    list."""
    freed = await repository.release_expired_seat_holds(session, now)
    for event_id in freed:
        while await offer_next(session, settings, event_id, now) is not None:
            pass
    return sum(freed.values())


async def release_unconfirmed(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Pending registrations not confirmed by the event's confirm-by deadline are released."""
    stale = await repository.unconfirmed_past_deadline(session, now, BATCH)
    for registration in stale:
        await cancel_registration(session, settings, registration, "not_confirmed", now)
    return len(stale)


REMINDER_BATCH = 2000


async def send_reminders(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Reminders to confirmed attendees at each of the event's offsets before its start.

    Each (registration, offset) is recorded once (the table's key, inserted with ON CONFLICT
    DO NOTHING), so two runs at once send one reminder. An offset whose moment passed before
    the person confirmed is not sent; when several offsets are due at once (the worker was
    down), only the nearest goes out and the older ones are recorded as done.
    """
    sent = 0
    # Offsets are at most 30 days (the schema's bound): later events have nothing due.
    for event in await repository.events_with_reminders_due(session, now, now + timedelta(days=30)):
        due_offsets = sorted(
            m
            for m in event.reminder_offsets_minutes
            if event.starts_at - timedelta(minutes=m) <= now
        )
        for position, offset in enumerate(due_offsets):
            due = event.starts_at - timedelta(minutes=offset)
            for registration in await repository.confirmed_without_reminder(
                session, event.id, offset, due, REMINDER_BATCH
            ):
                if not await repository.claim_reminder(session, registration.id, offset, now):
                    continue
                # A nearer offset is due too: this one is stale, recorded but not sent.
                if any(
                    registration.confirmed_at is not None
                    and registration.confirmed_at <= event.starts_at - timedelta(minutes=nearer)
                    for nearer in due_offsets[:position]
                ):
                    continue
                emit(
                    session,
                    events.REMINDER_DUE,
                    events.RegistrationReminderDue(
                        **registration_data(registration).model_dump(), offset_minutes=offset
                    ),
                )
                sent += 1
    return sent


# -- my calendar feed --------------------------------------------------------------------------

FEED_PAST = timedelta(days=90)
FEED_EVENTS = 500
FEED_STATUSES = [
    EventStatus.published,
    EventStatus.registration_open,
    EventStatus.registration_closed,
    EventStatus.completed,
]


def _feed_view(settings: Settings, feed: CalendarFeed) -> CalendarFeedRead:
    token = calendar_feed_token(settings.jwt_secret, feed.member_id, feed.salt)
    base = settings.public_api_url.rstrip("/")
    return CalendarFeedRead(url=f"{base}/api/v1/calendar/{token}.ics", created_at=feed.created_at)


def _new_salt(settings: Settings, feed: CalendarFeed) -> None:
    feed.salt = new_link_salt()
    feed.token_digest = token_digest(
        calendar_feed_token(settings.jwt_secret, feed.member_id, feed.salt)
    )
    feed.created_at = datetime.now(UTC)


async def _require_member(session: AsyncSession, principal: Principal) -> uuid.UUID:
    if not principal.sees_members:
        raise Forbidden("Only members have a calendar feed.")
    return principal.id


async def calendar_feed(
    session: AsyncSession, settings: Settings, principal: Principal
) -> CalendarFeedRead:
    """My feed's URL; the first read (or the first after a revocation) makes one."""
    member_id = await _require_member(session, principal)
    feed = await repository.calendar_feed(session, member_id, for_update=True)
    if feed is None:
        feed = CalendarFeed(member_id=member_id, salt="", token_digest="")
        _new_salt(settings, feed)
        session.add(feed)
        await session.flush()
    return _feed_view(settings, feed)


async def rotate_calendar_feed(
    session: AsyncSession, settings: Settings, principal: Principal, context: RequestContext
) -> CalendarFeedRead:
    """A new URL; the old one stops working at once."""
    member_id = await _require_member(session, principal)
    feed = await repository.calendar_feed(session, member_id, for_update=True)
    if feed is None:
        feed = CalendarFeed(member_id=member_id, salt="", token_digest="")
        session.add(feed)
    _new_salt(settings, feed)
    await session.flush()
    audit.record(
        session,
        actor_id=member_id,
        action="calendar_feed.rotated",
        target_type="member",
        target_id=member_id,
        context=context,
    )
    return _feed_view(settings, feed)


async def revoke_calendar_feed(
    session: AsyncSession, principal: Principal, context: RequestContext
) -> None:
    member_id = await _require_member(session, principal)
    if await repository.delete_calendar_feed(session, member_id):
        audit.record(
            session,
            actor_id=member_id,
            action="calendar_feed.revoked",
            target_type="member",
            target_id=member_id,
            context=context,
        )


async def calendar_feed_content(
    session: AsyncSession, settings: Settings, token: str, now: datetime
) -> bytes:
    """The feed behind a token: the member's confirmed places and the community's events
    (from 90 days back). An unknown, rotated or revoked token is not found."""
    feed = await repository.calendar_feed_by_digest(session, token_digest(token))
    member = await repository.get_member(session, feed.member_id) if feed else None
    if feed is None or member is None or member.erased_at is not None:
        raise NotFound("No such calendar feed.")
    since = now - FEED_PAST
    attending = await repository.attending_since(session, member.id, since)
    listed = await repository.listed_events_since(session, since, FEED_STATUSES, FEED_EVENTS)
    return calendar.feed(settings, attending, listed, "Digital Leaders")


# -- "tell me about the next meeting" ---------------------------------------------------------


async def request_next_event_notice(
    session: AsyncSession, principal: Principal
) -> NextEventNoticeRead:
    """Put me on the list: the next event to open registration e-mails me, once. Asking
    again while on the list changes nothing; after the e-mail it puts me on it anew."""
    member_id = await _require_member(session, principal)
    request = await repository.next_event_request(session, member_id)
    if request is None:
        request = NextEventRequest(member_id=member_id)
        session.add(request)
    elif request.notified_event_id is not None or request.notified_at is not None:
        request.requested_at = datetime.now(UTC)
        request.notified_event_id = None
        request.notified_at = None
    await session.flush()
    return NextEventNoticeRead(requested_at=request.requested_at, notified=False)


async def cancel_next_event_notice(session: AsyncSession, principal: Principal) -> None:
    member_id = await _require_member(session, principal)
    await repository.delete_next_event_request(session, member_id)


async def claim_next_event_requests(
    session: AsyncSession, event_id: uuid.UUID, opened_at: datetime
) -> list[uuid.UUID]:
    """Who hears that this event opened: every member and proven guest on the list then
    (members' ids, then guests' rows' ids), each request used once (the first opening after
    it answers it, so a second opening mails nobody twice)."""
    now = datetime.now(UTC)
    members = await repository.claim_next_event_requests(session, event_id, opened_at, now)
    guests = await repository.claim_next_event_guests(session, event_id, opened_at, now)
    return members + guests


# -- guests without an account on the list -----------------------------------------------------

GUEST_CONFIRM = "next-event-guest-confirm"
GUEST_UNSUBSCRIBE = "next-event-guest-unsubscribe"
GUEST_LINK_DAYS = 7


def guest_confirm_token(settings: Settings, guest: NextEventGuest) -> str:
    """The e-mailed link that proves the guest's address: signed, bound to this request (a
    new request replaces it), good for ``GUEST_LINK_DAYS``."""
    stamp = int(guest.requested_at.timestamp() * 1_000_000)
    return sign_value(settings.jwt_secret, GUEST_CONFIRM, f"{guest.id}:{stamp}")


def guest_unsubscribe_token(settings: Settings, guest_id: uuid.UUID) -> str:
    return sign_value(settings.jwt_secret, GUEST_UNSUBSCRIBE, str(guest_id))


async def next_event_guest(session: AsyncSession, guest_id: uuid.UUID) -> NextEventGuest | None:
    return await repository.next_event_guest(session, guest_id)


async def request_guest_next_event_notice(
    session: AsyncSession,
    settings: Settings,
    context: RequestContext,
    data: GuestNextEventNoticeCreate,
) -> None:
    """Someone without an account asks for the next meeting: a link to their address proves
    it is theirs before it goes on the list. The answer is the same whatever the address;
    requests are counted as password resets are (per client, per address)."""
    now = datetime.now(UTC)
    key = normalize_email(data.email)
    if not await accounts.may_mail_a_link(session, settings, context, key, now):
        return
    guest = await repository.next_event_guest_by_key(session, key)
    if guest is not None and guest.verified_at is not None and guest.notified_event_id is None:
        return  # on the list already: nothing to prove again
    if guest is None:
        guest = await repository.add_next_event_guest(
            session, NextEventGuest(email=data.email, email_key=key)
        )
    guest.language = data.language.value
    guest.requested_at, guest.verified_at = now, None
    guest.notified_event_id, guest.notified_at = None, None
    await session.flush()
    emit(session, events.NEXT_EVENT_GUEST_ASKED, events.GuestAsked(id=guest.id, version=1))


def _guest_of_token(settings: Settings, purpose: str, token: str) -> tuple[uuid.UUID, str]:
    value = unsign_value(settings.jwt_secret, purpose, token)
    guest_id, _, rest = (value or "").partition(":")
    try:
        return uuid.UUID(guest_id), rest
    except ValueError:
        raise InvalidLink("This link is invalid or has expired.") from None


async def confirm_guest_next_event_notice(
    session: AsyncSession, settings: Settings, token: str
) -> GuestNextEventNoticeRead:
    """The e-mailed link: the address is proven and on the list. Using it again changes
    nothing; a link of an older request, or older than its days, is refused."""
    guest_id, stamp = _guest_of_token(settings, GUEST_CONFIRM, token)
    guest = await repository.next_event_guest(session, guest_id)
    now = datetime.now(UTC)
    if (
        guest is None
        or stamp != str(int(guest.requested_at.timestamp() * 1_000_000))
        or now > guest.requested_at + timedelta(days=GUEST_LINK_DAYS)
    ):
        raise InvalidLink("This link is invalid or has expired.")
    if guest.verified_at is None:
        guest.verified_at = now
        await session.flush()
    return GuestNextEventNoticeRead(email=guest.email, verified_at=guest.verified_at)


async def unsubscribe_guest(session: AsyncSession, settings: Settings, token: str) -> None:
    """One-click (RFC 8058) from a guest's e-mail: off the list, the address forgotten.
    Using the link again changes nothing."""
    guest_id, _ = _guest_of_token(settings, GUEST_UNSUBSCRIBE, token)
    await repository.delete_next_event_guest(session, guest_id)
