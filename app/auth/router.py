"""/api/v1/auth: sign-up, address verification, login, refresh, logout, password reset and
invitations (public); logout everywhere, a new verification link, password change (authed)."""

from fastapi import APIRouter, Response, status

from app.auth import accounts, service
from app.auth.permissions import InteractivePrincipal
from app.auth.schemas import (
    Accepted,
    EmailVerified,
    LoginRequest,
    PasswordChangeRequest,
    PasswordResetRequest,
    RefreshRequest,
    Revocation,
    SignupRequest,
    TokenAndPassword,
    TokenBody,
    TokenPair,
)
from app.core.context import ContextDep, PasswordHasherDep, SettingsDep, TokenCodecDep
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.middleware import NO_STORE

public_router = APIRouter(prefix="/auth", tags=["auth"])
router = APIRouter(prefix="/auth", tags=["auth"])


ACCEPTED_SIGNUP = (
    "If the address can receive mail, a message is on its way to it: follow its link to "
    "verify the address. An address that has an account already receives a way back in."
)
ACCEPTED_RESET = (
    "If the address belongs to an account, a password-reset link is on its way to it; "
    "it works once, within the hour."
)


@public_router.post(
    "/signup",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=problem_responses(413, 422, 429),
    operation_id="auth_signup",
)
async def signup(
    body: SignupRequest,
    session: SessionDep,
    settings: SettingsDep,
    hasher: PasswordHasherDep,
    context: ContextDep,
) -> Accepted:
    """Create an account (it starts with the role `applicant`) and send its address a
    verification link. The answer is the same whether or not the address is registered: a
    registered one receives an e-mail saying someone tried, with a password-reset link."""
    await accounts.sign_up(session, settings, hasher, context, body)
    return Accepted(detail=ACCEPTED_SIGNUP)


@public_router.post(
    "/verify-email",
    response_model=EmailVerified,
    responses=problem_responses(400, 413, 422),
    operation_id="auth_verify_email",
)
async def verify_email(body: TokenBody, session: SessionDep, context: ContextDep) -> EmailVerified:
    """Prove the address from the link in the verification e-mail
    (`{web app}/verify-email?token=...`)."""
    member, verified_at = await accounts.verify_email(session, context, body.token)
    return EmailVerified(email=member.email, email_verified_at=verified_at)


@public_router.post(
    "/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=problem_responses(413, 422, 429),
    operation_id="auth_password_reset_request",
)
async def request_password_reset(
    body: PasswordResetRequest, session: SessionDep, settings: SettingsDep, context: ContextDep
) -> Accepted:
    """Ask for a password-reset link (valid one hour). The answer is the same for every
    address; a few requests per address and hour are sent, the rest are not."""
    await accounts.request_password_reset(session, settings, context, body.email)
    return Accepted(detail=ACCEPTED_RESET)


@public_router.post(
    "/password-reset/confirm",
    response_model=Revocation,
    responses=problem_responses(400, 413, 422),
    operation_id="auth_password_reset_confirm",
)
async def confirm_password_reset(
    body: TokenAndPassword, session: SessionDep, hasher: PasswordHasherDep, context: ContextDep
) -> Revocation:
    """Set a new password from the reset link (`{web app}/reset-password?token=...`): every
    session and personal API token of the account ends; log in with the new password."""
    return await accounts.reset_password(session, hasher, context, body.token, body.password)


@public_router.post(
    "/invitations/accept",
    response_model=TokenPair,
    responses=problem_responses(400, 413, 422),
    operation_id="auth_invitation_accept",
    dependencies=[NO_STORE],
)
async def accept_invitation(
    body: TokenAndPassword,
    session: SessionDep,
    settings: SettingsDep,
    codec: TokenCodecDep,
    hasher: PasswordHasherDep,
    context: ContextDep,
) -> TokenPair:
    """Set my first password from the invitation link (`{web app}/accept-invitation?token=...`)
    and sign in: the answer is a token pair, as from login."""
    return await accounts.accept_invitation(
        session,
        settings=settings,
        codec=codec,
        hasher=hasher,
        context=context,
        token=body.token,
        password=body.password,
    )


@public_router.post(
    "/login",
    response_model=TokenPair,
    responses=problem_responses(401, 413, 422, 429),
    operation_id="auth_login",
    dependencies=[NO_STORE],
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
    dependencies=[NO_STORE],
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
    response_model=Revocation,
    responses=problem_responses(401, 403),
    operation_id="auth_logout_all",
)
async def logout_all(
    principal: InteractivePrincipal, session: SessionDep, context: ContextDep
) -> Revocation:
    """Log out everywhere: every access and refresh token issued so far, and every personal
    API token, stops working; the answer says how many were ended."""
    return await service.logout_everywhere(session, principal, context)


@router.post(
    "/verification",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=problem_responses(401, 403, 409, 429),
    operation_id="auth_verification_resend",
)
async def resend_verification(
    principal: InteractivePrincipal, session: SessionDep, settings: SettingsDep, context: ContextDep
) -> Accepted:
    """Send my address a new verification link (a few per hour)."""
    await accounts.resend_verification(session, settings, principal, context)
    return Accepted(detail="A new verification link is on its way to your address.")


@router.post(
    "/password",
    response_model=Revocation,
    responses=problem_responses(401, 403, 413, 422),
    operation_id="auth_change_password",
)
async def change_password(
    body: PasswordChangeRequest,
    principal: InteractivePrincipal,
    session: SessionDep,
    hasher: PasswordHasherDep,
    context: ContextDep,
) -> Revocation:
    """Change my password; every token issued before, personal API tokens included, is
    revoked, so log in again."""
    return await service.change_password(
        session,
        hasher=hasher,
        principal=principal,
        context=context,
        current_password=body.current_password,
        new_password=body.new_password,
    )
