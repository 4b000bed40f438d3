"""/api/v1/events/{id}/registrations, /api/v1/registrations: registering, the second
confirmation, the waiting list, check-in at the door."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from app.auth.permissions import AdminPrincipal, PrincipalDep, require
from app.auth.principal import Principal
from app.auth.schemas import Accepted
from app.core.context import ContextDep, SettingsDep
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.middleware import NO_STORE
from app.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from app.core.responses import json_response
from app.core.schemas import StrictUUID
from app.models.member import Role
from app.models.registration import RegistrationStatus
from app.registrations import service
from app.registrations.schemas import (
    AttendanceRead,
    CalendarFeedRead,
    CheckIn,
    ConfirmLink,
    GuestNextEventNoticeConfirm,
    GuestNextEventNoticeCreate,
    GuestNextEventNoticeRead,
    NextEventNoticeRead,
    QrCheckIn,
    QrCode,
    RegistrationAdminRead,
    RegistrationCreate,
    RegistrationRead,
    SourceCount,
    WalkIn,
)

router = APIRouter(tags=["registrations"])
public_router = APIRouter(tags=["registrations"])

StaffPrincipal = Annotated[Principal, Depends(require(Role.facilitator, Role.admin))]


@router.post(
    "/events/{event_id}/registrations",
    status_code=status.HTTP_201_CREATED,
    response_model=RegistrationRead,
    responses=problem_responses(401, 403, 404, 409, 413, 422),
    operation_id="registrations_create",
)
async def register(
    event_id: StrictUUID, body: RegistrationCreate, principal: PrincipalDep, session: SessionDep
) -> Response:
    """Register for an event; the seat is firm only after the second confirmation."""
    created = await service.register(session, principal=principal, event_id=event_id, data=body)
    return json_response(created, status_code=status.HTTP_201_CREATED)


@router.get(
    "/events/{event_id}/registrations",
    response_model=Page[RegistrationAdminRead | RegistrationRead],
    responses=problem_responses(401, 403, 404, 422),
    operation_id="registrations_list",
)
async def list_registrations(
    event_id: StrictUUID,
    staff: StaffPrincipal,
    session: SessionDep,
    registration_status: Annotated[RegistrationStatus | None, Query(alias="status")] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Response:
    """The event's registrations in order of arrival, for admins and facilitators. Admins also
    see the guest e-mail and the Timepad order of each (RegistrationAdminRead)."""
    page = await service.list_for_event(
        session,
        principal=staff,
        event_id=event_id,
        status=registration_status,
        cursor=cursor,
        limit=limit,
    )
    return json_response(page)


@router.get(
    "/events/{event_id}/registrations/sources",
    response_model=list[SourceCount],
    responses=problem_responses(401, 403, 404, 422),
    operation_id="registrations_sources",
)
async def registration_sources(
    event_id: StrictUUID, admin: AdminPrincipal, session: SessionDep
) -> list[SourceCount]:
    """Registrations by source and UTM campaign: where people came from, and who came."""
    return await service.source_stats(session, event_id)


@router.post(
    "/events/{event_id}/check-in",
    response_model=RegistrationRead,
    responses=problem_responses(401, 403, 404, 409, 413, 422),
    operation_id="events_check_in",
)
async def check_in_by_qr(
    event_id: StrictUUID,
    body: QrCheckIn,
    staff: StaffPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    context: ContextDep,
) -> RegistrationRead:
    """Check in by the scanned QR code. The same scan twice is harmless; another scan of a
    checked-in person is a 409 saying when they arrived."""
    return await service.check_in(
        session,
        settings,
        principal=staff,
        context=context,
        token=body.qr_token,
        nonce=body.nonce,
        event_id=event_id,
    )


@router.post(
    "/events/{event_id}/walk-ins",
    status_code=status.HTTP_201_CREATED,
    response_model=RegistrationAdminRead,
    responses=problem_responses(401, 403, 404, 409, 413, 422),
    operation_id="events_walk_in",
)
async def walk_in(
    event_id: StrictUUID,
    body: WalkIn,
    admin: AdminPrincipal,
    session: SessionDep,
    context: ContextDep,
) -> Response:
    """Register someone who came to the door, checked in at once: a member, or a guest by
    name. A full room gets one more seat (audited). Admins only."""
    registered = await service.walk_in(
        session, admin=admin, context=context, event_id=event_id, data=body
    )
    return json_response(registered, status_code=status.HTTP_201_CREATED)


@router.get(
    "/registrations",
    response_model=Page[RegistrationRead],
    responses=problem_responses(401, 422),
    operation_id="registrations_mine",
)
async def my_registrations(
    principal: PrincipalDep,
    session: SessionDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Response:
    """My registrations, newest first."""
    return json_response(await service.mine(session, principal, cursor=cursor, limit=limit))


@router.get(
    "/registrations/{registration_id}",
    response_model=RegistrationRead,
    responses=problem_responses(401, 404, 422),
    operation_id="registrations_get",
)
async def get_registration(
    registration_id: StrictUUID,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
) -> RegistrationRead:
    """A registration: mine, or any for admins and facilitators."""
    return await service.get(
        session, settings, principal=principal, registration_id=registration_id
    )


@router.post(
    "/registrations/{registration_id}/confirm",
    response_model=RegistrationRead,
    responses=problem_responses(401, 404, 409, 422),
    operation_id="registrations_confirm",
)
async def confirm(
    registration_id: StrictUUID, principal: PrincipalDep, session: SessionDep
) -> Response:
    """The second confirmation (or taking an offered seat): confirmed if a seat is free,
    otherwise on the waiting list in order of arrival."""
    # The service answers the member's own view: serialised once, not validated again.
    confirmed = await service.confirm(session, principal=principal, registration_id=registration_id)
    return json_response(confirmed)


@router.post(
    "/registrations/{registration_id}/cancel",
    response_model=RegistrationRead,
    responses=problem_responses(401, 404, 409, 422),
    operation_id="registrations_cancel",
)
async def cancel(
    registration_id: StrictUUID,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    context: ContextDep,
) -> RegistrationRead:
    """Cancel my registration (admins: anyone's); a freed seat goes to the next in line."""
    return await service.cancel(
        session, settings, principal=principal, context=context, registration_id=registration_id
    )


@router.post(
    "/registrations/{registration_id}/admit",
    response_model=RegistrationAdminRead,
    responses=problem_responses(401, 403, 404, 409, 422),
    operation_id="registrations_admit",
)
async def admit(
    registration_id: StrictUUID, admin: AdminPrincipal, session: SessionDep, context: ContextDep
) -> Response:
    """Confirm someone on the waiting list (or still to confirm) at once; with no seat free,
    the event gets one more (audited). Admins only."""
    admitted = await service.admit(
        session, admin=admin, context=context, registration_id=registration_id
    )
    return json_response(admitted)


@router.post(
    "/registrations/{registration_id}/check-in",
    response_model=RegistrationRead,
    responses=problem_responses(401, 403, 404, 409, 413, 422),
    operation_id="registrations_check_in",
)
async def check_in(
    registration_id: StrictUUID,
    body: CheckIn,
    staff: StaffPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    context: ContextDep,
) -> RegistrationRead:
    """Check in by registration id (facilitators and admins)."""
    return await service.check_in(
        session,
        settings,
        principal=staff,
        context=context,
        registration_id=registration_id,
        nonce=body.nonce,
    )


@router.get(
    "/registrations/{registration_id}/qr",
    response_model=QrCode,
    responses=problem_responses(401, 404, 422),
    operation_id="registrations_qr",
)
async def qr_code(
    registration_id: StrictUUID,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
) -> QrCode:
    """The code to show at the door (mine; admins any)."""
    return QrCode(
        qr_token=await service.qr(
            session, settings, principal=principal, registration_id=registration_id
        )
    )


@router.get(
    "/members/{member_id}/attendance",
    response_model=AttendanceRead,
    responses=problem_responses(401, 403, 422),
    operation_id="members_attendance",
)
async def attendance(
    member_id: StrictUUID, admin: AdminPrincipal, session: SessionDep
) -> AttendanceRead:
    """A member's registrations, attendance and no-shows, latest event first. Admins only."""
    return await service.attendance(session, member_id)


@public_router.post(
    "/registrations/confirm-link",
    response_model=RegistrationRead,
    responses=problem_responses(409, 413, 422),
    operation_id="registrations_confirm_link",
)
async def confirm_by_link(
    body: ConfirmLink, session: SessionDep, settings: SettingsDep
) -> RegistrationRead:
    """Confirm with the token of the e-mailed link (no sign-in needed; works once)."""
    return await service.confirm_by_link(session, settings, body.token)


# -- my calendar feed (/me/calendar-feed) and the feed itself (/calendar/{token}.ics) -----------

me_router = APIRouter(prefix="/me", tags=["me"])
FeedToken = Annotated[
    str,
    Path(
        min_length=43,
        max_length=43,
        pattern=r"^[A-Za-z0-9_-]{43}$",
        description="The secret of the feed's URL.",
    ),
]


@me_router.get(
    "/calendar-feed",
    response_model=CalendarFeedRead,
    responses=problem_responses(401, 403),
    operation_id="me_calendar_feed_get",
    dependencies=[NO_STORE],
)
async def get_calendar_feed(
    principal: PrincipalDep, session: SessionDep, settings: SettingsDep
) -> CalendarFeedRead:
    """My personal calendar feed's URL (made on the first read, and again after a revocation)."""
    return await service.calendar_feed(session, settings, principal)


@me_router.post(
    "/calendar-feed/rotate",
    response_model=CalendarFeedRead,
    responses=problem_responses(401, 403),
    operation_id="me_calendar_feed_rotate",
    dependencies=[NO_STORE],
)
async def rotate_calendar_feed(
    principal: PrincipalDep, session: SessionDep, settings: SettingsDep, context: ContextDep
) -> CalendarFeedRead:
    """A new feed URL; the old one stops working at once."""
    return await service.rotate_calendar_feed(session, settings, principal, context)


@me_router.delete(
    "/calendar-feed",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403),
    operation_id="me_calendar_feed_revoke",
)
async def revoke_calendar_feed(
    principal: PrincipalDep, session: SessionDep, context: ContextDep
) -> Response:
    """End my feed: its URL answers 404 from now on."""
    await service.revoke_calendar_feed(session, principal, context)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@me_router.post(
    "/next-event-notice",
    response_model=NextEventNoticeRead,
    responses=problem_responses(401, 403),
    operation_id="me_next_event_notice_request",
)
async def request_next_event_notice(
    principal: PrincipalDep, session: SessionDep
) -> NextEventNoticeRead:
    """Put me on the list to be e-mailed when the next event opens registration (once)."""
    return await service.request_next_event_notice(session, principal)


@me_router.delete(
    "/next-event-notice",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403),
    operation_id="me_next_event_notice_cancel",
)
async def cancel_next_event_notice(principal: PrincipalDep, session: SessionDep) -> Response:
    """Take me off the list."""
    await service.cancel_next_event_notice(session, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


calendar_router = APIRouter(prefix="/calendar", tags=["registrations"])


@calendar_router.get(
    "/{token}.ics",
    response_class=Response,
    operation_id="calendar_feed",
    responses={
        200: {
            "content": {"text/calendar": {"schema": {"type": "string"}}},
            "description": "The feed (RFC 5545).",
        },
        **problem_responses(404, 422),
    },
)
async def calendar_feed(token: FeedToken, session: SessionDep, settings: SettingsDep) -> Response:
    """A member's calendar feed, for calendar programs (no sign-in: the URL is the secret):
    their confirmed places, with the same UIDs as their e-mailed invitations, and the
    community's events."""
    body = await service.calendar_feed_content(session, settings, token, datetime.now(UTC))
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300"},
    )


# -- the next meeting, for people without an account (/public/next-event-notice) ---------------

GUEST_ASKED = (
    "If the address can receive e-mail, a link to confirm it is on its way: the next meeting "
    "is announced to it once it is confirmed."
)


@public_router.post(
    "/public/next-event-notice",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=problem_responses(413, 422, 429),
    operation_id="public_next_event_notice_request",
)
async def request_guest_next_event_notice(
    body: GuestNextEventNoticeCreate,
    session: SessionDep,
    settings: SettingsDep,
    context: ContextDep,
) -> Accepted:
    """No account needed: e-mail me when the next meeting opens registration. A link first
    proves the address (valid 7 days); the answer is the same for every address, and a few
    requests per address and hour are sent, the rest are not. Members use
    `POST /api/v1/me/next-event-notice`."""
    await service.request_guest_next_event_notice(session, settings, context, body)
    return Accepted(detail=GUEST_ASKED)


@public_router.post(
    "/public/next-event-notice/confirm",
    response_model=GuestNextEventNoticeRead,
    responses=problem_responses(400, 413, 422),
    operation_id="public_next_event_notice_confirm",
)
async def confirm_guest_next_event_notice(
    body: GuestNextEventNoticeConfirm, session: SessionDep, settings: SettingsDep
) -> GuestNextEventNoticeRead:
    """The token of the e-mailed link: the address is on the list for the next opening."""
    return await service.confirm_guest_next_event_notice(session, settings, body.token)


@public_router.post(
    "/public/next-event-notice/unsubscribe",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(400, 413, 422),
    operation_id="public_next_event_notice_unsubscribe",
)
async def unsubscribe_guest(
    token: Annotated[str, Query(min_length=1, max_length=200, description="The link's token.")],
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """One-click unsubscribe (RFC 8058) of a guest's e-mail: off the list, the address
    forgotten. Using the link again changes nothing."""
    await service.unsubscribe_guest(session, settings, token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
