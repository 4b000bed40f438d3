"""/api/v1/members (the directory), /api/v1/me (my profile, privacy, tokens, data, e-mail
preferences) and /api/v1/notifications/unsubscribe (the e-mailed one-click link)."""

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.auth import service as auth_service
from app.auth.permissions import AdminPrincipal, InteractivePrincipal, PrincipalDep
from app.auth.schemas import ApiTokenCreate, ApiTokenCreated, ApiTokenRead
from app.core.context import ContextDep, SettingsDep
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.idempotency import answer_holds_secret
from app.core.middleware import NO_STORE
from app.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from app.core.responses import NOT_MODIFIED, IfMatch, json_response, tagged_response
from app.core.schemas import StrictUUID
from app.members import service
from app.members.repository import MemberFilters
from app.members.schemas import (
    ConsentChangeRead,
    InvitationResult,
    InvitationsReport,
    InvitationsRequest,
    MemberAdminUpdate,
    MemberExport,
    MemberRead,
    MemberSelf,
    MemberUpdate,
    NotificationPreferences,
    NotificationPreferencesUpdate,
    RolesUpdate,
    UnsubscribeResult,
)
from app.models.member import Function, MemberStatus, Role

router = APIRouter(prefix="/members", tags=["members"])
me_router = APIRouter(prefix="/me", tags=["me"])
# Called by mail programs and e-mailed links, without signing in.
public_router = APIRouter(prefix="/notifications", tags=["me"])


class MemberSort(StrEnum):
    created_at = "created_at"
    created_at_desc = "-created_at"
    full_name = "full_name"
    full_name_desc = "-full_name"
    company = "company"  # admins only: company is private
    company_desc = "-company"


@router.get(
    "",
    response_model=Page[MemberRead],
    responses=problem_responses(401, 403, 422),
    operation_id="members_list",
)
async def list_members(
    principal: PrincipalDep,
    session: SessionDep,
    context: ContextDep,
    function: Function | None = None,
    seniority: Annotated[int | None, Query(ge=1, le=5)] = None,
    city: Annotated[str | None, Query(max_length=100)] = None,
    industry: Annotated[str | None, Query(max_length=100)] = None,
    tag: Annotated[str | None, Query(max_length=40)] = None,
    member_status: Annotated[MemberStatus | None, Query(alias="status")] = None,
    role: Annotated[
        Role | None, Query(description="Roles other than `member`: admins only.")
    ] = None,
    q: Annotated[str | None, Query(max_length=100, description="Part of the name.")] = None,
    company: Annotated[str | None, Query(max_length=200, description="Admins only.")] = None,
    email: Annotated[str | None, Query(max_length=254, description="Admins only.")] = None,
    sort: Annotated[
        MemberSort, Query(description="By company: admins only.")
    ] = MemberSort.full_name,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Response:
    """List members I may see, with private fields shown only where consent allows."""
    filters = MemberFilters(
        function=function,
        seniority=seniority,
        city=city,
        industry=industry,
        tag=tag,
        status=member_status,
        role=role,
        q=q,
        company=company,
        email=email,
    )
    page = await service.list_members(
        session,
        principal=principal,
        context=context,
        filters=filters,
        sort=sort.value,
        cursor=cursor,
        limit=limit,
    )
    return json_response(page)


@router.get(
    "/{member_id}",
    response_model=MemberSelf | MemberRead,
    responses={**problem_responses(401, 403, 404, 422), **NOT_MODIFIED},
    operation_id="members_get",
)
async def get_member(
    member_id: StrictUUID,
    principal: PrincipalDep,
    session: SessionDep,
    context: ContextDep,
    request: Request,
) -> Response:
    """Read one member; admins and the member themselves get every field."""
    member = await service.get_member(
        session, principal=principal, context=context, member_id=member_id
    )
    return tagged_response(member, request)


@router.patch(
    "/{member_id}",
    response_model=MemberSelf,
    responses=problem_responses(401, 403, 404, 412, 413, 422),
    operation_id="members_update",
)
async def update_member(
    member_id: StrictUUID,
    body: MemberAdminUpdate,
    admin: AdminPrincipal,
    session: SessionDep,
    context: ContextDep,
    request: Request,
    if_match: IfMatch = None,
) -> Response:
    """Change a member's status (active, paused, left). Admins only."""
    member = await service.update_member_status(
        session,
        principal=admin,
        context=context,
        member_id=member_id,
        data=body,
        if_match=if_match,
    )
    return tagged_response(member, request)


@router.put(
    "/{member_id}/roles",
    response_model=MemberSelf,
    responses=problem_responses(401, 403, 404, 413, 422),
    operation_id="members_set_roles",
)
async def set_roles(
    member_id: StrictUUID,
    body: RolesUpdate,
    admin: AdminPrincipal,
    session: SessionDep,
    context: ContextDep,
) -> MemberSelf:
    """Replace a member's roles; their access and refresh tokens are revoked. Admins only."""
    return await service.set_roles(
        session, principal=admin, context=context, member_id=member_id, roles=body.roles
    )


@router.post(
    "/invitations",
    response_model=InvitationsReport,
    responses=problem_responses(401, 403, 404, 413, 422),
    operation_id="members_invite_many",
)
async def invite_members(
    body: InvitationsRequest,
    admin: AdminPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    context: ContextDep,
) -> InvitationsReport:
    """Send invitations (a set-password link, valid 14 days) to the listed members, or to every
    approved member who has not set a password yet. Safe to repeat: whoever was invited within
    the hour, or has a password, is skipped and reported. Admins only."""
    return await service.invite_many(session, settings, admin=admin, context=context, request=body)


@router.post(
    "/{member_id}/invitation",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=InvitationResult,
    responses=problem_responses(401, 403, 404, 422),
    operation_id="members_invite",
)
async def invite_member(
    member_id: StrictUUID,
    admin: AdminPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    context: ContextDep,
) -> InvitationResult:
    """Send (or send again) a member without a password an invitation to set one; a member
    with a password is not sent one (`sent: false`, `reason: active`). Admins only."""
    return await service.invite_one(
        session, settings, admin=admin, context=context, member_id=member_id
    )


@me_router.get(
    "",
    response_model=MemberSelf,
    responses={**problem_responses(401, 403, 404), **NOT_MODIFIED},
    operation_id="me_get",
)
async def get_me(principal: PrincipalDep, session: SessionDep, request: Request) -> Response:
    """Read my own profile with every field, my roles and my privacy settings."""
    return tagged_response(await service.get_me(session, principal), request)


@me_router.patch(
    "",
    response_model=MemberSelf,
    responses=problem_responses(401, 403, 404, 412, 413, 422),
    operation_id="me_update",
)
async def update_me(
    body: MemberUpdate,
    principal: PrincipalDep,
    session: SessionDep,
    context: ContextDep,
    request: Request,
    if_match: IfMatch = None,
) -> Response:
    """Update my profile and privacy settings; each consent change is kept with its time."""
    me = await service.update_me(
        session, principal=principal, context=context, data=body, if_match=if_match
    )
    return tagged_response(me, request)


@me_router.get(
    "/consents",
    response_model=list[ConsentChangeRead],
    responses=problem_responses(401, 403, 404),
    operation_id="me_consent_history",
)
async def consent_history(principal: PrincipalDep, session: SessionDep) -> list[ConsentChangeRead]:
    """The history of my privacy choices, oldest first."""
    return await service.consent_history(session, principal)


@me_router.get(
    "/export",
    response_model=MemberExport,
    responses=problem_responses(401, 403, 404),
    operation_id="me_export",
)
async def export_me(principal: PrincipalDep, session: SessionDep) -> MemberExport:
    """Everything held about me, as JSON."""
    return await service.export_me(session, principal)


@me_router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(401, 403, 404),
    operation_id="me_erase",
)
async def erase_me(
    principal: InteractivePrincipal, session: SessionDep, context: ContextDep
) -> None:
    """Erase my personal data and close my account; an audit entry without personal data stays."""
    await service.erase_me(session, principal=principal, context=context)


@me_router.get(
    "/tokens",
    response_model=list[ApiTokenRead],
    responses=problem_responses(401, 403),
    operation_id="me_tokens_list",
)
async def list_tokens(principal: InteractivePrincipal, session: SessionDep) -> list[ApiTokenRead]:
    """My personal API tokens (never their secrets)."""
    return await auth_service.list_api_tokens(session, principal)


@me_router.post(
    "/tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiTokenCreated,
    responses=problem_responses(401, 403, 409, 413, 422),
    operation_id="me_tokens_create",
    dependencies=[answer_holds_secret("GET /api/v1/me/tokens lists it"), NO_STORE],
)
async def create_token(
    body: ApiTokenCreate,
    principal: InteractivePrincipal,
    session: SessionDep,
    context: ContextDep,
) -> ApiTokenCreated:
    """Create a personal API token; the secret is in this response only."""
    return await auth_service.create_api_token(
        session, principal=principal, context=context, data=body
    )


@me_router.delete(
    "/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(401, 403, 404),
    operation_id="me_tokens_revoke",
)
async def revoke_token(
    token_id: StrictUUID,
    principal: InteractivePrincipal,
    session: SessionDep,
    context: ContextDep,
) -> None:
    """Revoke one of my personal API tokens."""
    await auth_service.revoke_api_token(
        session, principal=principal, context=context, token_id=token_id
    )


@me_router.get(
    "/notifications",
    response_model=NotificationPreferences,
    responses=problem_responses(401, 403, 404),
    operation_id="me_notifications_get",
)
async def get_notifications(
    principal: PrincipalDep, session: SessionDep
) -> NotificationPreferences:
    """Which e-mails I receive: transactional ones always, each other kind unless turned off."""
    return await service.notification_preferences(session, principal)


@me_router.put(
    "/notifications",
    response_model=NotificationPreferences,
    responses=problem_responses(401, 403, 404, 413, 422),
    operation_id="me_notifications_put",
)
async def put_notifications(
    body: NotificationPreferencesUpdate,
    principal: PrincipalDep,
    session: SessionDep,
    context: ContextDep,
) -> NotificationPreferences:
    """Turn kinds of e-mail on or off; a kind left out keeps its setting."""
    return await service.update_notification_preferences(
        session, principal=principal, context=context, data=body
    )


@public_router.post(
    "/unsubscribe",
    response_model=UnsubscribeResult,
    responses=problem_responses(400, 413, 422),
    operation_id="notifications_unsubscribe",
)
async def unsubscribe(
    token: Annotated[str, Query(min_length=1, max_length=200, description="The link's token.")],
    session: SessionDep,
    settings: SettingsDep,
    context: ContextDep,
) -> UnsubscribeResult:
    """One-click unsubscribe (RFC 8058), without signing in: the `List-Unsubscribe` link of
    every e-mail that can be turned off. Mail programs POST `List-Unsubscribe=One-Click` to it
    (the body is not read); the web app's `/unsubscribe?token=` page calls it the same way.
    The token is signed for one member and one kind; using it again changes nothing."""
    return await service.unsubscribe(session, settings, context, token)
