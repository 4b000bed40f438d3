"""Queries behind authentication: credentials, token families, throttling counters."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import revocations
from app.models.member import Member, MemberRole
from app.models.token import AccountLink, ApiToken, LoginFailure, RefreshToken


class DuplicateEmail(Exception):
    pass


async def get_member_by_email(session: AsyncSession, email_normalized: str) -> Member | None:
    statement = select(Member).where(Member.email_normalized == email_normalized)
    result = await session.execute(statement)
    return result.scalar_one_or_none()


async def add_member(session: AsyncSession, member: Member, roles: list[str]) -> Member:
    """Insert the account in a savepoint: a concurrent sign-up with the same address fails
    this insert only (``DuplicateEmail``), not the caller's transaction."""
    try:
        async with session.begin_nested():
            session.add(member)
            await session.flush()
    except IntegrityError as error:
        raise DuplicateEmail from error
    session.add_all(MemberRole(member_id=member.id, role=role) for role in roles)
    await session.flush()
    return member


async def get_roles(session: AsyncSession, member_id: uuid.UUID) -> list[str]:
    result = await session.execute(
        select(MemberRole.role).where(MemberRole.member_id == member_id).order_by(MemberRole.role)
    )
    return list(result.scalars())


_member = Member.__table__
# Core, built once, on the session's connection: this runs on every authenticated request, and
# the ORM's execution path costs several times the query itself.
_TOKEN_STATE = select(_member.c.token_version, _member.c.erased_at).where(
    _member.c.id == bindparam("member_id", type_=_member.c.id.type)
)


_VERIFIED_AND_NAME = select(_member.c.email_verified_at, _member.c.full_name).where(
    _member.c.id == bindparam("member_id", type_=_member.c.id.type)
)


async def verified_and_name(session: AsyncSession, member_id: uuid.UUID) -> Row[Any] | None:
    """(email_verified_at, full_name) of a member: what registering checks and answers with,
    without loading the whole member (Core, on the session's connection, as above)."""
    connection = await session.connection()
    return (await connection.execute(_VERIFIED_AND_NAME, {"member_id": member_id})).one_or_none()


_NOTIFY = select(func.pg_notify(bindparam("channel"), bindparam("member")))


async def get_token_state(
    session: AsyncSession, member_id: uuid.UUID
) -> tuple[int, datetime | None] | None:
    """(token_version, erased_at) of a member: the one read every authenticated call costs."""
    connection = await session.connection()
    result = await connection.execute(_TOKEN_STATE, {"member_id": member_id})
    row = result.one_or_none()
    return (row[0], row[1]) if row else None


async def bump_token_version(session: AsyncSession, member_id: uuid.UUID) -> None:
    """Refuse the member's access tokens issued so far. Every process's cache of versions
    forgets the member when this commits (see ``revocations``)."""
    await session.execute(
        update(Member).where(Member.id == member_id).values(token_version=Member.token_version + 1)
    )
    revocations.raised_in(session, member_id)
    if session.get_bind().dialect.name == "postgresql":
        # Delivered to the listeners at COMMIT, not before, and not at all on ROLLBACK.
        await session.execute(_NOTIFY, {"channel": revocations.CHANNEL, "member": str(member_id)})


# --- refresh tokens ---------------------------------------------------------------------


async def add_refresh_token(session: AsyncSession, token: RefreshToken) -> None:
    session.add(token)
    await session.flush()


async def get_refresh_token_for_update(
    session: AsyncSession, token_hash: str
) -> RefreshToken | None:
    # FOR UPDATE: two concurrent refreshes with one token must not both succeed.
    result = await session.execute(
        select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
    )
    return result.scalar_one_or_none()


async def revoke_refresh_family(session: AsyncSession, family_id: uuid.UUID, now: datetime) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def revoke_member_refresh_tokens(
    session: AsyncSession, member_id: uuid.UUID, now: datetime
) -> int:
    """Revokes every live refresh token of the member; how many were live."""
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.member_id == member_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)


# --- API tokens ---------------------------------------------------------------------------


async def get_api_token_with_owner(
    session: AsyncSession, token_hash: str
) -> tuple[ApiToken, int, datetime | None] | None:
    result = await session.execute(
        select(ApiToken, Member.token_version, Member.erased_at)
        .join(Member, Member.id == ApiToken.member_id)
        .where(ApiToken.token_hash == token_hash)
    )
    row = result.one_or_none()
    return (row[0], row[1], row[2]) if row else None


async def touch_api_token(
    session: AsyncSession, token_id: uuid.UUID, now: datetime, stale_before: datetime
) -> None:
    # Written at most once a minute per token, so reads stay cheap.
    await session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            (ApiToken.last_used_at.is_(None)) | (ApiToken.last_used_at < stale_before),
        )
        .values(last_used_at=now)
    )


# --- login throttling ---------------------------------------------------------------------


async def count_failures(
    session: AsyncSession, key: str, since: datetime
) -> tuple[int, datetime | None]:
    result = await session.execute(
        select(func.count(), func.min(LoginFailure.occurred_at)).where(
            LoginFailure.key == key, LoginFailure.occurred_at > since
        )
    )
    count, oldest = result.one()
    return int(count), oldest


async def add_failures(session: AsyncSession, keys: list[str], now: datetime) -> None:
    session.add_all(LoginFailure(key=key, occurred_at=now) for key in keys)
    await session.flush()


async def clear_failures(session: AsyncSession, key: str) -> None:
    await session.execute(delete(LoginFailure).where(LoginFailure.key == key))


async def prune_failures(session: AsyncSession, before: datetime) -> None:
    await session.execute(delete(LoginFailure).where(LoginFailure.occurred_at < before))


async def add_api_token(session: AsyncSession, token: ApiToken) -> None:
    session.add(token)
    await session.flush()


async def list_api_tokens(session: AsyncSession, member_id: uuid.UUID) -> list[ApiToken]:
    result = await session.execute(
        select(ApiToken)
        .where(ApiToken.member_id == member_id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id)
    )
    return list(result.scalars())


async def get_own_api_token(
    session: AsyncSession, member_id: uuid.UUID, token_id: uuid.UUID
) -> ApiToken | None:
    result = await session.execute(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.member_id == member_id)
    )
    return result.scalar_one_or_none()


async def revoke_api_tokens(session: AsyncSession, member_id: uuid.UUID, now: datetime) -> int:
    """Revokes every personal API token of the member still in force; how many were."""
    result = await session.execute(
        update(ApiToken)
        .where(
            ApiToken.member_id == member_id,
            ApiToken.revoked_at.is_(None),
            (ApiToken.expires_at.is_(None)) | (ApiToken.expires_at > now),
        )
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)


# --- e-mailed account links ---------------------------------------------------------------


async def add_link(session: AsyncSession, link: AccountLink) -> None:
    session.add(link)
    await session.flush()


async def link_by_digest(session: AsyncSession, token_hash: str) -> AccountLink | None:
    result = await session.execute(select(AccountLink).where(AccountLink.token_hash == token_hash))
    return result.scalar_one_or_none()


async def claim_link(session: AsyncSession, link_id: uuid.UUID, now: datetime) -> bool:
    """Marks the link used unless it is already: a conditional update, so of concurrent
    redeemers exactly one sees True (the others wait for its row lock, then find it used)."""
    result = await session.execute(
        update(AccountLink)
        .where(AccountLink.id == link_id, AccountLink.used_at.is_(None))
        .values(used_at=now)
    )
    return bool(result.rowcount)


async def spend_links(
    session: AsyncSession, member_id: uuid.UUID, purposes: list[str], now: datetime
) -> None:
    """Every unused link of these kinds for the member is spent (one redeemed, or superseded)."""
    await session.execute(
        update(AccountLink)
        .where(
            AccountLink.member_id == member_id,
            AccountLink.purpose.in_(purposes),
            AccountLink.used_at.is_(None),
        )
        .values(used_at=now)
    )


async def newest_live_link(
    session: AsyncSession, member_id: uuid.UUID, purpose: str, now: datetime
) -> AccountLink | None:
    result = await session.execute(
        select(AccountLink)
        .where(
            AccountLink.member_id == member_id,
            AccountLink.purpose == purpose,
            AccountLink.used_at.is_(None),
            AccountLink.expires_at > now,
        )
        .order_by(AccountLink.created_at.desc(), AccountLink.id.desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


async def last_link_at(
    session: AsyncSession, member_ids: list[uuid.UUID], purpose: str
) -> dict[uuid.UUID, datetime]:
    """When each member's newest link of the kind was made."""
    if not member_ids:
        return {}
    result = await session.execute(
        select(AccountLink.member_id, func.max(AccountLink.created_at))
        .where(AccountLink.member_id.in_(member_ids), AccountLink.purpose == purpose)
        .group_by(AccountLink.member_id)
    )
    return {member_id: at for member_id, at in result.all()}


async def prune_links(session: AsyncSession, before: datetime) -> None:
    """Links expired before ``before`` open nothing any more."""
    await session.execute(delete(AccountLink).where(AccountLink.expires_at < before))


async def members_by_ids(session: AsyncSession, member_ids: list[uuid.UUID]) -> list[Member]:
    if not member_ids:
        return []
    result = await session.execute(select(Member).where(Member.id.in_(member_ids)))
    return list(result.scalars())


async def pending_invitees(session: AsyncSession) -> list[Member]:
    """Approved members (role member) who never set a password and are not erased."""
    result = await session.execute(
        select(Member)
        .join(MemberRole, MemberRole.member_id == Member.id)
        .where(
            MemberRole.role == "member",
            Member.password_hash.is_(None),
            Member.erased_at.is_(None),
        )
        .order_by(Member.created_at, Member.id)
    )
    return list(result.scalars())
