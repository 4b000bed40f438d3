"""/api/v1/events: the programme. Admins create and change events; members list and read
them; /api/v1/public/events shows public events to anyone, without attendees.

A status change settles the event's registrations too: the registrations area follows it
(``app.events.service.status_changing``).
"""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status

from app.auth.permissions import AdminPrincipal, PrincipalDep
from app.core.context import ContextDep, SettingsDep
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from app.core.responses import NOT_MODIFIED, IfMatch, json_response, tagged_response
from app.core.schemas import StrictUUID
from app.events import service
from app.events.schemas import (
    EventCounts,
    EventCreate,
    EventRead,
    EventTransition,
    EventUpdate,
    PublicEventRead,
)
from app.models.event import EventStatus

router = APIRouter(prefix="/events", tags=["events"])
public_router = APIRouter(prefix="/public/events", tags=["events"])

When = Annotated[
    Literal["upcoming", "past"] | None,
    Query(description="`upcoming` (not yet over, soonest first) or `past` (latest first)."),
]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=EventRead,
    responses=problem_responses(401, 403, 409, 413, 422),
    operation_id="events_create",
)
async def create_event(
    body: EventCreate, admin: AdminPrincipal, session: SessionDep, context: ContextDep
) -> Response:
    """Create an event as a draft. Admins only."""
    created = await service.create(session, admin=admin, context=context, data=body)
    return json_response(created, status_code=status.HTTP_201_CREATED)


@router.get(
    "",
    response_model=Page[EventRead],
    responses=problem_responses(401, 422),
    operation_id="events_list",
)
async def list_events(
    principal: PrincipalDep,
    session: SessionDep,
    when: When = None,
    event_status: Annotated[EventStatus | None, Query(alias="status")] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Response:
    """Events I may see: members see every published event, applicants the public ones,
    admins drafts too."""
    page = await service.list_events(
        session, principal, when=when, status=event_status, cursor=cursor, limit=limit
    )
    return json_response(page)


@router.get(
    "/{event_id}",
    response_model=EventRead,
    responses={**problem_responses(401, 404, 422), **NOT_MODIFIED},
    operation_id="events_get",
)
async def get_event(
    event_id: StrictUUID, principal: PrincipalDep, session: SessionDep, request: Request
) -> Response:
    """One event (ETag)."""
    return tagged_response(await service.get(session, principal, event_id), request)


@router.patch(
    "/{event_id}",
    response_model=EventRead,
    responses=problem_responses(401, 403, 404, 409, 412, 413, 422),
    operation_id="events_update",
)
async def update_event(
    event_id: StrictUUID,
    body: EventUpdate,
    admin: AdminPrincipal,
    session: SessionDep,
    context: ContextDep,
    settings: SettingsDep,
    request: Request,
    if_match: IfMatch = None,
) -> Response:
    """Change an event's details (If-Match). Seats never drop below those already held; new
    seats are offered to the head of the waiting list at once."""
    updated = await service.update(
        session,
        settings,
        admin=admin,
        context=context,
        event_id=event_id,
        data=body,
        if_match=if_match,
    )
    return tagged_response(updated, request)


@router.get(
    "/{event_id}/counts",
    response_model=EventCounts,
    responses=problem_responses(401, 404, 422),
    operation_id="events_counts",
)
async def event_counts(
    event_id: StrictUUID, principal: PrincipalDep, session: SessionDep
) -> EventCounts:
    """Seats, and registrations by status."""
    return await service.counts(session, principal, event_id)


@public_router.get(
    "",
    response_model=Page[PublicEventRead],
    responses=problem_responses(422),
    operation_id="public_events_list",
)
async def list_public_events(
    session: SessionDep,
    when: When = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Response:
    """Public events, for anyone: the programme, never who comes."""
    return json_response(await service.list_public(session, when=when, cursor=cursor, limit=limit))


@public_router.get(
    "/{event_id}",
    response_model=PublicEventRead,
    responses=problem_responses(404, 422),
    operation_id="public_events_get",
)
async def get_public_event(event_id: StrictUUID, session: SessionDep) -> PublicEventRead:
    """One public event, for anyone."""
    return await service.get_public(session, event_id)


@router.post(
    "/{event_id}/status",
    response_model=EventRead,
    responses=problem_responses(401, 403, 404, 409, 413, 422),
    operation_id="events_transition",
)
async def move_event(
    event_id: StrictUUID,
    body: EventTransition,
    admin: AdminPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    context: ContextDep,
) -> EventRead:
    """Publish, open or close registration, complete or cancel an event. Completing turns
    unchecked confirmed registrations into no-shows; cancelling cancels every registration."""
    return await service.move_event(
        session, settings, admin=admin, context=context, event_id=event_id, data=body
    )
