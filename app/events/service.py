"""Events: create and change them (admins), read them as each reader may."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.core import audit
from app.core.config import Settings
from app.core.context import RequestContext
from app.core.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from app.core.etag import check_if_match, etag_of
from app.core.followers import Followers
from app.core.outbox import emit
from app.core.pagination import Page, decode_time_cursor, encode_time_cursor
from app.events import repository
from app.events.events import (
    EVENT_CANCELLED,
    EVENT_COMPLETED,
    EVENT_PUBLISHED,
    EVENT_REGISTRATION_CLOSED,
    EVENT_REGISTRATION_OPENED,
    EVENT_UPDATED,
    EventChanged,
)
from app.events.lifecycle import may_move
from app.events.repository import EventRow
from app.events.schemas import (
    EventCounts,
    EventCreate,
    EventRead,
    EventTransition,
    EventUpdate,
    PublicEventRead,
)
from app.models.event import Event, EventStatus, EventVisibility
from app.models.registration import RegistrationStatus

# What each reader may list. Drafts are the admins' own; the public sees public events once
# published, members see both visibilities.
LISTED = [s for s in EventStatus if s != EventStatus.draft]


def _public_fields(event: Event | EventRow) -> dict[str, Any]:
    return {
        "id": event.id,
        "title": event.title,
        "description": event.description,
        "venue_name": event.venue_name,
        "venue_address": event.venue_address,
        "starts_at": event.starts_at,
        "ends_at": event.ends_at,
        "time_zone": event.time_zone,
        "status": event.status,
        "registration_opens_at": event.registration_opens_at,
        "registration_closes_at": event.registration_closes_at,
    }


def _fields(event: Event | EventRow) -> dict[str, Any]:
    """The fields of ``EventRead`` as plain values, validated once by the caller's model (a
    page validates all its events in one call)."""
    return {
        **_public_fields(event),
        "seats": event.seats,
        "table_size": event.table_size,
        "confirm_by": event.confirm_by,
        "speaker_ids": list(event.speaker_ids),
        "timepad_event_id": event.timepad_event_id,
        "visibility": event.visibility,
        "reminder_offsets_minutes": list(event.reminder_offsets_minutes),
        "seats_available": event.seats - event.seats_held,
        "version": event.version,
        "created_at": event.created_at,
        "updated_at": event.updated_at,
    }


def view(event: Event | EventRow) -> EventRead:
    return EventRead.model_validate(_fields(event))


def public_view(event: Event | EventRow) -> PublicEventRead:
    return PublicEventRead.model_validate(_public_fields(event))


def may_read(principal: Principal | None, event: Event) -> bool:
    if principal is not None and principal.is_admin:
        return True
    if event.status == EventStatus.draft:
        return False
    if principal is not None and principal.sees_members:
        return True
    return event.visibility == EventVisibility.public


def changed_data(event: Event, fields: list[str] | None = None) -> EventChanged:
    return EventChanged(
        id=event.id,
        version=event.version,
        status=event.status,
        starts_at=event.starts_at.isoformat(),
        fields=fields or [],
    )


# -- for the areas above, which check access their own way -------------------------------------


async def find(session: AsyncSession, event_id: uuid.UUID) -> Event | None:
    """The event row itself, unchecked."""
    return await repository.get(session, event_id)


async def find_by_timepad_id(session: AsyncSession, timepad_event_id: int) -> Event | None:
    return await repository.by_timepad_id(session, timepad_event_id)


async def linked_to_timepad(session: AsyncSession, statuses: Sequence[str]) -> list[Event]:
    """The events with a Timepad twin in one of ``statuses``."""
    return await repository.linked_to_timepad(session, statuses)


async def load_visible(
    session: AsyncSession, principal: Principal | None, event_id: uuid.UUID
) -> Event:
    event = await repository.get(session, event_id)
    if event is None or not may_read(principal, event):
        raise NotFound("No such event.")
    return event


async def create(
    session: AsyncSession, *, admin: Principal, context: RequestContext, data: EventCreate
) -> EventRead:
    event = Event(
        **data.model_dump(exclude={"speaker_ids", "visibility"}),
        speaker_ids=[str(s) for s in data.speaker_ids],
        visibility=data.visibility,
        created_by=admin.id,
    )
    await _check_timepad_id(session, event.timepad_event_id, None)
    await repository.add(session, event)
    audit.record(
        session,
        actor_id=admin.id,
        action="event.created",
        target_type="event",
        target_id=event.id,
        context=context,
    )
    return view(event)


async def _check_timepad_id(
    session: AsyncSession, timepad_event_id: int | None, event_id: uuid.UUID | None
) -> None:
    if timepad_event_id is None:
        return
    other = await repository.by_timepad_id(session, timepad_event_id)
    if other is not None and other.id != event_id:
        raise Conflict("Another event is linked to this Timepad event.")


async def get(session: AsyncSession, principal: Principal | None, event_id: uuid.UUID) -> EventRead:
    return view(await load_visible(session, principal, event_id))


async def get_public(session: AsyncSession, event_id: uuid.UUID) -> PublicEventRead:
    return public_view(await load_visible(session, None, event_id))


# More seats at an event: the areas above fill them (the waiting list is offered the new
# seats), in the same transaction: (session, settings, event, now).
seats_raised: Followers[[AsyncSession, Settings, Event, datetime]] = Followers("seats raised")


async def update(
    session: AsyncSession,
    settings: Settings,
    *,
    admin: Principal,
    context: RequestContext,
    event_id: uuid.UUID,
    data: EventUpdate,
    if_match: str | None,
) -> EventRead:
    event = await repository.get_for_update(session, event_id)
    if event is None:
        raise NotFound("No such event.")
    check_if_match(if_match, etag_of(view(event)))
    if event.status in (EventStatus.completed, EventStatus.cancelled):
        raise Conflict(f"A {event.status} event cannot be changed.")
    changes = data.model_dump(exclude_unset=True)
    for name in (
        "title",
        "starts_at",
        "ends_at",
        "time_zone",
        "seats",
        "table_size",
        "visibility",
        "speaker_ids",
        "reminder_offsets_minutes",
    ):
        if name in changes and changes[name] is None:
            raise InvalidInput(f"{name} cannot be removed.")
    if "seats" in changes and changes["seats"] < event.seats_held:
        raise Conflict(f"{event.seats_held} seats are already held; seats cannot go below that.")
    if "timepad_event_id" in changes:
        await _check_timepad_id(session, changes["timepad_event_id"], event.id)
    more_seats = "seats" in changes and changes["seats"] > event.seats
    different = []
    for name, value in changes.items():
        if name == "speaker_ids":
            value = [str(s) for s in value]
        if getattr(event, name) != value:
            different.append(name)
        setattr(event, name, value)
    if event.ends_at <= event.starts_at:
        # Both ends in one body: the request contradicts itself (422). One end moved past
        # the stored other end: it conflicts with the event as it is (409).
        if {"starts_at", "ends_at"} <= changes.keys():
            raise InvalidInput("ends_at must be after starts_at.")
        stored = event.starts_at if "ends_at" in changes else event.ends_at
        raise Conflict(
            "ends_at must be after starts_at; the end not in this request is "
            f"{stored.isoformat().replace('+00:00', 'Z')}."
        )
    if changes:
        event.version += 1
        event.updated_at = datetime.now(UTC)
        audit.record(
            session,
            actor_id=admin.id,
            action="event.updated",
            target_type="event",
            target_id=event.id,
            context=context,
            details={"fields": sorted(changes)},
        )
        if event.status != EventStatus.draft:
            emit(session, EVENT_UPDATED, changed_data(event, sorted(different)))
    await session.flush()
    if more_seats:
        await seats_raised.run(session, settings, event, datetime.now(UTC))
        await session.refresh(event)  # the followers took seats for the offers they made
    return view(event)


async def _listed(
    session: AsyncSession,
    principal: Principal | None,
    *,
    when: str | None,
    status: EventStatus | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[EventRow], str | None]:
    """One page of the events this reader may list, and the cursor of the next."""
    admin = principal is not None and principal.is_admin
    statuses = [status] if status is not None else (list(EventStatus) if admin else LISTED)
    if not admin:
        statuses = [s for s in statuses if s in LISTED]
    visibilities = (
        None
        if principal is not None and (admin or principal.sees_members)
        else [EventVisibility.public]
    )
    sort = f"events:{when or 'all'}"
    rows = await repository.list_events(
        session,
        statuses=statuses,
        visibilities=visibilities,
        upcoming=None if when is None else when == "upcoming",
        now=datetime.now(UTC),
        after=decode_time_cursor(cursor, sort),
        limit=limit,
    )
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = encode_time_cursor(sort, page[-1].starts_at, page[-1].id)
    return page, next_cursor


async def list_events(
    session: AsyncSession,
    principal: Principal | None,
    *,
    when: str | None,
    status: EventStatus | None,
    cursor: str | None,
    limit: int,
) -> Page[EventRead]:
    page, next_cursor = await _listed(
        session, principal, when=when, status=status, cursor=cursor, limit=limit
    )
    return Page[EventRead].model_validate(
        {"items": [_fields(e) for e in page], "next_cursor": next_cursor}
    )


async def list_public(
    session: AsyncSession, *, when: str | None, cursor: str | None, limit: int
) -> Page[PublicEventRead]:
    page, next_cursor = await _listed(
        session, None, when=when, status=None, cursor=cursor, limit=limit
    )
    return Page[PublicEventRead].model_validate(
        {"items": [_public_fields(e) for e in page], "next_cursor": next_cursor}
    )


async def counts(session: AsyncSession, principal: Principal, event_id: uuid.UUID) -> EventCounts:
    event = await load_visible(session, principal, event_id)
    by_status = await repository.status_counts(session, event.id)
    return EventCounts(
        seats=event.seats,
        available=event.seats - event.seats_held,
        confirmed=by_status.get(RegistrationStatus.confirmed, 0),
        pending=by_status.get(RegistrationStatus.pending_confirmation, 0),
        offered=by_status.get(RegistrationStatus.offered, 0),
        waitlisted=by_status.get(RegistrationStatus.waitlisted, 0),
        checked_in=by_status.get(RegistrationStatus.checked_in, 0),
        no_show=by_status.get(RegistrationStatus.no_show, 0),
        cancelled=by_status.get(RegistrationStatus.cancelled, 0),
    )


# -- the event's status ------------------------------------------------------------------------

# What a status change means above this area (the registrations settle), run in the same
# transaction before the event's row moves: (session, settings, event, new status, now).
status_changing: Followers[[AsyncSession, Settings, Event, EventStatus, datetime]] = Followers(
    "event status changing"
)

TRANSITION_EVENTS = {
    EventStatus.published: EVENT_PUBLISHED,
    EventStatus.registration_open: EVENT_REGISTRATION_OPENED,
    EventStatus.registration_closed: EVENT_REGISTRATION_CLOSED,
    EventStatus.completed: EVENT_COMPLETED,
    EventStatus.cancelled: EVENT_CANCELLED,
}


async def move_event(
    session: AsyncSession,
    settings: Settings,
    *,
    admin: Principal,
    context: RequestContext,
    event_id: uuid.UUID,
    data: EventTransition,
) -> EventRead:
    """Publish, open or close registration, complete or cancel an event (admins); moving to the
    status it has already is a no-op."""
    event = await repository.get_for_update(session, event_id)
    if event is None:
        raise NotFound("No such event.")
    if event.status == data.status:
        return view(event)
    if not may_move(event.status, data.status):
        raise IllegalTransition(f"An event cannot go from {event.status} to {data.status}.")
    now = datetime.now(UTC)
    previous = event.status
    await status_changing.run(session, settings, event, EventStatus(data.status), now)
    await session.refresh(event)  # the followers may have moved its seat counts
    event.status = data.status
    event.version += 1
    event.updated_at = now
    emit(session, TRANSITION_EVENTS[EventStatus(data.status)], changed_data(event))
    audit.record(
        session,
        actor_id=admin.id,
        action="event.status_changed",
        target_type="event",
        target_id=event.id,
        context=context,
        details={"from": previous, "to": data.status},
    )
    await session.flush()
    return view(event)
