"""/api/v1/auth: sign-up, login, refresh and logout (public), logout everywhere (authed)."""

from fastapi import APIRouter, Response, status

from app.auth import service
from app.auth.permissions import InteractivePrincipal
from app.auth.schemas import (
    LoginRequest,
    PasswordChangeRequest,
    RefreshRequest,
    SignupRequest,
    TokenPair,
)
from app.core.context import ContextDep, PasswordHasherDep, SettingsDep, TokenCodecDep
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.members.schemas import MemberSelf
from app.members.service import read_self_view

public_router = APIRouter(prefix="/auth", tags=["auth"])
router = APIRouter(prefix="/auth", tags=["auth"])


@public_router.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    response_model=MemberSelf,
    responses=problem_responses(409, 413, 422),
    operation_id="auth_signup",
)
async def signup(
    body: SignupRequest, session: SessionDep, hasher: PasswordHasherDep, context: ContextDep
) -> MemberSelf:
    """Create an account; it starts with the role `applicant`."""
    member = await service.signup(session, hasher, context, body)
    return await read_self_view(session, member)


@public_router.post(
    "/login",
    response_model=TokenPair,
    responses=problem_responses(401, 413, 422, 429),
    operation_id="auth_login",
)
async def login(
    body: LoginRequest,
    session: SessionDep,
    settings: SettingsDep,
    codec: TokenCodecDep,
    hasher: PasswordHasherDep,
    context: ContextDep,
) -> TokenPair:
    """Exchange e-mail and password for an access token and a refresh token."""
    return await service.login(
        session,
        settings=settings,
        codec=codec,
        hasher=hasher,
        context=context,
        email=body.email,
        password=body.password,
    )


@public_router.post(
    "/refresh",
    response_model=TokenPair,
    responses=problem_responses(401, 413, 422),
    operation_id="auth_refresh",
)
async def refresh(
    body: RefreshRequest, session: SessionDep, settings: SettingsDep, codec: TokenCodecDep
) -> TokenPair:
    """Rotate a refresh token: the old one is spent; reusing it revokes the whole family."""
    return await service.refresh(
        session, settings=settings, codec=codec, refresh_token=body.refresh_token
    )


@public_router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(413, 422),
    operation_id="auth_logout",
)
async def logout(body: RefreshRequest, session: SessionDep) -> None:
    """Revoke a refresh token and every token rotated from the same login."""
    await service.logout(session, body.refresh_token)


@router.post(
    "/logout-all",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(401, 403),
    operation_id="auth_logout_all",
)
async def logout_all(
    principal: InteractivePrincipal, session: SessionDep, context: ContextDep
) -> None:
    """Log out everywhere: every access and refresh token issued so far stops working."""
    await service.logout_everywhere(session, principal, context)


@router.post(
    "/password",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(401, 403, 413, 422),
    operation_id="auth_change_password",
)
async def change_password(
    body: PasswordChangeRequest,
    principal: InteractivePrincipal,
    session: SessionDep,
    hasher: PasswordHasherDep,
    context: ContextDep,
) -> None:
    """Change my password; every token issued before is revoked, so log in again."""
    await service.change_password(
        session,
        hasher=hasher,
        principal=principal,
        context=context,
        current_password=body.current_password,
        new_password=body.new_password,
    )
