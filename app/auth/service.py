"""Login with throttling, refresh-token rotation with reuse detection, revocation, personal
API tokens. How accounts are made and activated is ``app.auth.accounts``."""

import unicodedata
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import repository, revocations
from app.auth.principal import Credential, Principal, Scope
from app.auth.schemas import ApiTokenCreate, ApiTokenCreated, ApiTokenRead, Revocation, TokenPair
from app.core import audit
from app.core.config import Settings
from app.core.context import RequestContext
from app.core.errors import (
    AppError,
    Conflict,
    InvalidInput,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from app.core.security import (
    API_TOKEN_PREFIX,
    InvalidToken,
    PasswordHasher,
    TokenCodec,
    new_api_token,
    new_refresh_token,
    token_digest,
)
from app.models.member import Member
from app.models.token import ApiToken, RefreshToken

ALL_SCOPES = frozenset(Scope)
API_TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)
API_TOKEN_MAX_LIFETIME = timedelta(days=366)
MAX_ACTIVE_API_TOKENS = 50


class InvalidCredentials(AppError):
    status, slug, title = 401, "invalid-credentials", "Invalid e-mail or password"
    keeps_writes = True  # the failure counter must survive the failed request


class InvalidRefreshToken(Unauthorized):
    slug, title = "invalid-refresh-token", "Invalid refresh token"


async def roles_of(session: AsyncSession, member_id: uuid.UUID) -> list[str]:
    """A person's current roles, sorted."""
    return await repository.get_roles(session, member_id)


def normalize_email(email: str) -> str:
    """The key an address is known by: NFKC (full-width and other compatibility forms become
    the plain ones) and case folding, so one mailbox is one account however it is typed."""
    return unicodedata.normalize("NFKC", email).strip().casefold()


async def login(
    session: AsyncSession,
    *,
    settings: Settings,
    codec: TokenCodec,
    hasher: PasswordHasher,
    context: RequestContext,
    email: str,
    password: str,
) -> TokenPair:
    now = datetime.now(UTC)
    window = timedelta(seconds=settings.login_window_seconds)
    account_key = f"account:{normalize_email(email)}"
    address_key = f"address:{context.client_address or 'unknown'}"
    for key, limit in (
        (account_key, settings.login_max_failures_per_account),
        (address_key, settings.login_max_failures_per_address),
    ):
        count, oldest = await repository.count_failures(session, key, now - window)
        if count >= limit and oldest is not None:
            retry_after = int((oldest + window - now).total_seconds()) + 1
            raise TooManyRequests(
                "Too many failed logins; try again later.", retry_after=retry_after
            )

    member = await repository.get_member_by_email(session, normalize_email(email))
    # Verify even when the e-mail is unknown: the same work, so timing reveals nothing.
    ok = await hasher.verify(password, member.password_hash if member else None)
    if member is None or not ok or member.erased_at is not None:
        await repository.add_failures(session, [account_key, address_key], now)
        raise InvalidCredentials("The e-mail or password is wrong.")

    await repository.clear_failures(session, account_key)
    return await issue_login(session, codec, settings, member)


async def issue_login(
    session: AsyncSession, codec: TokenCodec, settings: Settings, member: Member
) -> TokenPair:
    """A new login of the member: an access token and the first refresh token of a family."""
    roles = await repository.get_roles(session, member.id)
    return await _issue_pair(session, codec, settings, member, roles, family_id=uuid.uuid4())


async def refresh(
    session: AsyncSession, *, settings: Settings, codec: TokenCodec, refresh_token: str
) -> TokenPair:
    now = datetime.now(UTC)
    stored = await repository.get_refresh_token_for_update(session, token_digest(refresh_token))
    if stored is None:
        raise InvalidRefreshToken()
    if stored.used_at is not None or stored.revoked_at is not None:
        # A spent token came back: someone holds a copy. Kill the whole family.
        await repository.revoke_refresh_family(session, stored.family_id, now)
        raise _RefreshReused()
    if stored.expires_at <= now:
        raise InvalidRefreshToken("The refresh token has expired.")
    member = await session.get(Member, stored.member_id)
    if member is None or member.erased_at is not None:
        raise InvalidRefreshToken()
    stored.used_at = now
    roles = await repository.get_roles(session, member.id)
    return await _issue_pair(session, codec, settings, member, roles, family_id=stored.family_id)


class _RefreshReused(InvalidRefreshToken):
    keeps_writes = True  # the family revocation must be committed although the call fails


async def logout(session: AsyncSession, refresh_token: str) -> None:
    stored = await repository.get_refresh_token_for_update(session, token_digest(refresh_token))
    if stored is not None:
        await repository.revoke_refresh_family(session, stored.family_id, datetime.now(UTC))


async def revoke_everything(
    session: AsyncSession, member_id: uuid.UUID, *, api_tokens: bool = False
) -> tuple[int, int]:
    """Every access token issued before now is refused and every refresh token revoked; with
    ``api_tokens`` every personal API token too. (Sessions, API tokens) revoked."""
    now = datetime.now(UTC)
    await repository.bump_token_version(session, member_id)
    sessions = await repository.revoke_member_refresh_tokens(session, member_id, now)
    tokens = await repository.revoke_api_tokens(session, member_id, now) if api_tokens else 0
    return sessions, tokens


def revocation(counts: tuple[int, int]) -> Revocation:
    """The answer of a route that ended sessions and tokens: how many of each."""
    return Revocation(sessions_revoked=counts[0], api_tokens_revoked=counts[1])


async def logout_everywhere(
    session: AsyncSession, principal: Principal, context: RequestContext
) -> Revocation:
    """Every session and every personal API token of mine ends (a stolen one included)."""
    revoked = revocation(await revoke_everything(session, principal.id, api_tokens=True))
    audit.record(
        session,
        actor_id=principal.id,
        action="account.logged_out_everywhere",
        target_type="member",
        target_id=principal.id,
        context=context,
        details=revoked.model_dump(),
    )
    return revoked


async def change_password(
    session: AsyncSession,
    *,
    hasher: PasswordHasher,
    principal: Principal,
    context: RequestContext,
    current_password: str,
    new_password: str,
) -> Revocation:
    member = await session.get(Member, principal.id)
    if member is None or not await hasher.verify(current_password, member.password_hash):
        raise InvalidCredentials("The current password is wrong.")
    member.password_hash = await hasher.hash(new_password)
    member.updated_at = datetime.now(UTC)
    revoked = revocation(await revoke_everything(session, member.id, api_tokens=True))
    audit.record(
        session,
        actor_id=member.id,
        action="account.password_changed",
        target_type="member",
        target_id=member.id,
        context=context,
        details=revoked.model_dump(),
    )
    return revoked


async def _issue_pair(
    session: AsyncSession,
    codec: TokenCodec,
    settings: Settings,
    member: Member,
    roles: list[str],
    *,
    family_id: uuid.UUID,
) -> TokenPair:
    now = datetime.now(UTC)
    raw = new_refresh_token()
    await repository.add_refresh_token(
        session,
        RefreshToken(
            member_id=member.id,
            family_id=family_id,
            token_hash=token_digest(raw),
            created_at=now,
            expires_at=now + timedelta(days=settings.refresh_token_days),
        ),
    )
    return TokenPair(
        access_token=codec.issue(member.id, roles, member.token_version),
        expires_in=codec.lifetime_seconds,
        refresh_token=raw,
    )


async def authenticate(session: AsyncSession, codec: TokenCodec, bearer: str) -> Principal:
    """Turn a bearer credential (access JWT or personal API token) into a principal."""
    if bearer.startswith(API_TOKEN_PREFIX):
        return await _authenticate_api_token(session, bearer)
    try:
        claims = codec.decode(bearer)
    except InvalidToken as error:
        raise Unauthorized("The access token is invalid or expired.") from error
    if not await _current(session, claims.subject, claims.token_version):
        raise Unauthorized("The access token has been revoked.")
    return Principal(
        id=claims.subject,
        roles=claims.roles,
        scopes=ALL_SCOPES,
        credential=Credential.access_token,
    )


async def _current(session: AsyncSession, member_id: uuid.UUID, version: int) -> bool:
    """Is ``version`` the member's token version, and the member not erased? From this
    process's cache when it read it less than ``revocations.TRUST_SECONDS`` ago."""
    cache = revocations.token_versions
    known = cache.get(member_id)
    if known is None:
        generation = cache.generation
        state = await repository.get_token_state(session, member_id)
        if state is None:
            return False
        known = (state[0], state[1] is not None)
        cache.put(member_id, known[0], known[1], generation)
    return known[0] == version and not known[1]


async def _authenticate_api_token(session: AsyncSession, raw: str) -> Principal:
    now = datetime.now(UTC)
    found = await repository.get_api_token_with_owner(session, token_digest(raw))
    if found is None:
        raise Unauthorized("The API token is invalid.")
    token, _version, erased_at = found
    if token.revoked_at is not None or erased_at is not None:
        raise Unauthorized("The API token has been revoked.")
    if token.expires_at is not None and token.expires_at <= now:
        raise Unauthorized("The API token has expired.")
    await repository.touch_api_token(session, token.id, now, now - API_TOKEN_TOUCH_INTERVAL)
    # The owner's current roles, not those at creation: a revoked role ends its power at once.
    roles = frozenset(await repository.get_roles(session, token.member_id))
    return Principal(
        id=token.member_id,
        roles=roles,
        scopes=frozenset(token.scopes),
        credential=Credential.api_token,
    )


# --- personal API tokens ------------------------------------------------------------------


class TooManyApiTokens(Conflict):
    slug, title = "too-many-api-tokens", "Too many API tokens"


async def create_api_token(
    session: AsyncSession, *, principal: Principal, context: RequestContext, data: ApiTokenCreate
) -> ApiTokenCreated:
    now = datetime.now(UTC)
    if data.expires_at is not None:
        if data.expires_at.tzinfo is None:
            raise InvalidInput("expires_at needs a time zone, e.g. a trailing Z.")
        if data.expires_at <= now or data.expires_at > now + API_TOKEN_MAX_LIFETIME:
            raise InvalidInput("expires_at must lie in the future and within a year.")
    if Scope.admin in data.scopes and not principal.is_admin:
        raise InvalidInput("Only admins may create tokens with the 'admin' scope.")
    active = [
        t
        for t in await repository.list_api_tokens(session, principal.id)
        if t.revoked_at is None and (t.expires_at is None or t.expires_at > now)
    ]
    if len(active) >= MAX_ACTIVE_API_TOKENS:
        raise TooManyApiTokens(f"At most {MAX_ACTIVE_API_TOKENS} active tokens; revoke some.")
    raw = new_api_token()
    token = ApiToken(
        member_id=principal.id,
        name=data.name,
        token_hash=token_digest(raw),
        prefix=raw[: len(API_TOKEN_PREFIX) + 4],
        scopes=sorted(set(data.scopes)),
        created_at=now,
        expires_at=data.expires_at,
    )
    await repository.add_api_token(session, token)
    audit.record(
        session,
        actor_id=principal.id,
        action="api_token.created",
        target_type="api_token",
        target_id=token.id,
        context=context,
        details={"scopes": token.scopes},
    )
    return ApiTokenCreated.model_validate(
        {**ApiTokenRead.model_validate(token).model_dump(), "token": raw}
    )


async def list_api_tokens(session: AsyncSession, principal: Principal) -> list[ApiTokenRead]:
    return [
        ApiTokenRead.model_validate(t)
        for t in await repository.list_api_tokens(session, principal.id)
    ]


async def revoke_api_token(
    session: AsyncSession, *, principal: Principal, context: RequestContext, token_id: uuid.UUID
) -> None:
    token = await repository.get_own_api_token(session, principal.id, token_id)
    if token is None:
        raise NotFound("No such API token.")
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
        audit.record(
            session,
            actor_id=principal.id,
            action="api_token.revoked",
            target_type="api_token",
            target_id=token.id,
            context=context,
        )


async def prune_login_failures(session: AsyncSession, *, before: datetime) -> None:
    """Failures older than the throttling window no longer count."""
    await repository.prune_failures(session, before)


async def revoke_api_tokens(session: AsyncSession, member_id: uuid.UUID) -> None:
    await repository.revoke_api_tokens(session, member_id, datetime.now(UTC))


async def prune_account_links(session: AsyncSession, *, before: datetime) -> None:
    """E-mailed links that expired before ``before`` are deleted."""
    await repository.prune_links(session, before)
