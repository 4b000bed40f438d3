"""Accounts: how a person gets one and gets in.

- Sign-up answers the same whatever the address (no enumeration): a new address gets a
  verification link, a registered one an e-mail saying someone tried, with a reset link.
- Verification proves an address is its owner's; until then nothing that arrives by e-mail
  address (an imported application, a Timepad order, a CRM contact) is matched to the account,
  and it may not submit an application or register for an event.
- Invitations activate people who exist without a password (imported, invited by an admin,
  the first admin); password resets give an account back. Both links prove the address too.

Every e-mail goes through the outbox (an internal ``account.*`` event); the link in it is made
when the worker writes it (``app.auth.links``).
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import links, repository
from app.auth.events import (
    INVITED,
    MEMBER_CREATED,
    PASSWORD_RESET_REQUESTED,
    SIGNUP_ATTEMPTED,
    VERIFICATION_REQUESTED,
    AccountLinkData,
    MemberCreatedData,
)
from app.auth.principal import Principal
from app.auth.schemas import Revocation, SignupRequest, TokenPair
from app.auth.service import issue_login, normalize_email, revocation, revoke_everything
from app.core import audit
from app.core.config import Settings
from app.core.context import RequestContext
from app.core.errors import Conflict, Forbidden, NotFound, TooManyRequests
from app.core.outbox import EventType, emit
from app.core.security import PasswordHasher, TokenCodec
from app.models.member import Member, MemberRole, Role
from app.models.token import LinkPurpose

LINK_REQUEST_PREFIX = "link-request"


class EmailUnverified(Forbidden):
    slug, title = "email-unverified", "E-mail address not verified"


class AlreadyVerified(Conflict):
    slug, title = "email-already-verified", "E-mail address already verified"


def new_account(
    *,
    email: str,
    full_name: str,
    roles: Sequence[str],
    password_hash: str | None = None,
    phone: str | None = None,
    verified_at: datetime | None = None,
) -> tuple[Member, list[MemberRole]]:
    """The one way an account is made (sign-up, import, an admin's invitation, the first
    admin): the rows to add, with the address's key computed once, here."""
    member = Member(
        email=email,
        email_normalized=normalize_email(email),
        password_hash=password_hash,
        full_name=full_name,
        phone=phone,
        email_verified_at=verified_at,
    )
    return member, [MemberRole(member_id=member.id, role=str(role)) for role in roles]


def announce_created(session: AsyncSession, member: Member, roles: Sequence[str]) -> None:
    emit(
        session,
        MEMBER_CREATED,
        MemberCreatedData(id=member.id, version=member.version, roles=[str(r) for r in roles]),
    )


def _ask_to_mail(session: AsyncSession, event_type: EventType, member: Member) -> None:
    emit(session, event_type, AccountLinkData(id=member.id, version=member.version))


async def _mail_link(
    session: AsyncSession,
    settings: Settings,
    member: Member,
    purpose: LinkPurpose,
    event_type: EventType,
    *,
    now: datetime,
    context: RequestContext | None,
    actor_id: uuid.UUID | None = None,
) -> None:
    """A new link of the kind, the e-mail that carries it queued, and the audit entry (named
    after the event: ``account.invited``...)."""
    await links.issue(session, settings, member, purpose, now)
    _ask_to_mail(session, event_type, member)
    audit.record(
        session,
        actor_id=actor_id,
        action=event_type.name,
        target_type="member",
        target_id=member.id,
        context=context,
    )


async def require_verified(session: AsyncSession, member_id: uuid.UUID) -> str:
    """Refuses (403 ``email-unverified``) an account whose address is not proven yet; returns
    the member's name, which the caller's answer usually shows."""
    member = await repository.verified_and_name(session, member_id)
    if member is None or member.email_verified_at is None:
        raise EmailUnverified(
            "Verify your e-mail address first: follow the link we sent, or ask for a new one "
            "(POST /api/v1/auth/verification)."
        )
    return member.full_name


# -- throttling of the requests that send e-mail ----------------------------------------------


async def _client_may_ask(
    session: AsyncSession, settings: Settings, context: RequestContext, now: datetime
) -> None:
    """Counts the request against the client; beyond the limit, 429 (it tells the caller
    nothing about any address)."""
    window = timedelta(seconds=settings.link_request_window_seconds)
    key = f"{LINK_REQUEST_PREFIX}:address:{context.client_address or 'unknown'}"
    count, oldest = await repository.count_failures(session, key, now - window)
    if count >= settings.link_requests_per_client and oldest is not None:
        retry_after = int((oldest + window - now).total_seconds()) + 1
        raise TooManyRequests("Too many requests; try again later.", retry_after=retry_after)
    await repository.add_failures(session, [key], now)


async def _address_may_receive(
    session: AsyncSession, settings: Settings, email_key: str, now: datetime
) -> bool:
    """Counts an e-mail to the address; beyond the limit nothing more is sent to it (and the
    answer stays the same), so nobody can flood a mailbox through us."""
    window = timedelta(seconds=settings.link_request_window_seconds)
    key = f"{LINK_REQUEST_PREFIX}:account:{email_key}"
    count, _ = await repository.count_failures(session, key, now - window)
    await repository.add_failures(session, [key], now)
    return count < settings.link_requests_per_address


async def may_mail_a_link(
    session: AsyncSession,
    settings: Settings,
    context: RequestContext,
    email_key: str,
    now: datetime,
) -> bool:
    """For another area's public request that e-mails a link to an address (a guest asking
    for the next meeting): the same counting as a password reset. 429 beyond the client's
    limit; False (send nothing, answer the same) beyond the address's."""
    await _client_may_ask(session, settings, context, now)
    return await _address_may_receive(session, settings, email_key, now)


# -- sign-up and verification -------------------------------------------------------------------


async def sign_up(
    session: AsyncSession,
    settings: Settings,
    hasher: PasswordHasher,
    context: RequestContext,
    data: SignupRequest,
) -> None:
    """Register an address, answering the same whether or not it is taken, after the same
    work: the password is hashed, the address counted, one link made and one e-mail queued."""
    now = datetime.now(UTC)
    await _client_may_ask(session, settings, context, now)
    email = str(data.email)
    key = normalize_email(email)
    password_hash = await hasher.hash(data.password)
    may_mail = await _address_may_receive(session, settings, key, now)
    existing = await repository.get_member_by_email(session, key)
    if existing is None:
        member, roles = new_account(
            email=email,
            full_name=data.full_name,
            roles=[Role.applicant],
            password_hash=password_hash,
        )
        try:
            await repository.add_member(session, member, [r.role for r in roles])
        except repository.DuplicateEmail:  # a concurrent sign-up took it: answer as taken
            existing = await repository.get_member_by_email(session, key)
        else:
            audit.record(
                session,
                actor_id=member.id,
                action="account.signed_up",
                target_type="member",
                target_id=member.id,
                context=context,
            )
            announce_created(session, member, [Role.applicant])
            await links.issue(session, settings, member, LinkPurpose.verify_email, now)
            if may_mail:
                _ask_to_mail(session, VERIFICATION_REQUESTED, member)
            return
    if existing is None or existing.erased_at is not None or not may_mail:
        return
    await _mail_link(
        session,
        settings,
        existing,
        LinkPurpose.password_reset,
        SIGNUP_ATTEMPTED,
        now=now,
        context=context,
    )


async def verify_email(
    session: AsyncSession, context: RequestContext, token: str
) -> tuple[Member, datetime]:
    """Mark the address the link was sent to as its owner's; (account, verified at)."""
    now = datetime.now(UTC)
    member, _ = await links.redeem(session, token, LinkPurpose.verify_email, now)
    await _mark_verified(session, member, now)
    await repository.spend_links(session, member.id, [LinkPurpose.verify_email], now)
    audit.record(
        session,
        actor_id=member.id,
        action="account.email_verified",
        target_type="member",
        target_id=member.id,
        context=context,
    )
    assert member.email_verified_at is not None
    return member, member.email_verified_at


async def _mark_verified(session: AsyncSession, member: Member, now: datetime) -> None:
    if member.email_verified_at is None:
        member.email_verified_at = now
        member.version += 1
        member.updated_at = now
    await session.flush()


async def resend_verification(
    session: AsyncSession, settings: Settings, principal: Principal, context: RequestContext
) -> None:
    """A new verification link for my address (the older ones stay good until they expire)."""
    now = datetime.now(UTC)
    member = await session.get(Member, principal.id)
    if member is None or member.erased_at is not None:
        raise NotFound("No such account.")
    if member.email_verified_at is not None:
        raise AlreadyVerified("Your e-mail address is verified already.")
    window = timedelta(seconds=settings.link_request_window_seconds)
    key = f"{LINK_REQUEST_PREFIX}:member:{member.id}"
    count, oldest = await repository.count_failures(session, key, now - window)
    if count >= settings.link_requests_per_address and oldest is not None:
        retry_after = int((oldest + window - now).total_seconds()) + 1
        raise TooManyRequests(
            "A verification link was sent several times already; try again later.",
            retry_after=retry_after,
        )
    await repository.add_failures(session, [key], now)
    await _mail_link(
        session,
        settings,
        member,
        LinkPurpose.verify_email,
        VERIFICATION_REQUESTED,
        now=now,
        context=context,
        actor_id=member.id,
    )


# -- password reset -----------------------------------------------------------------------------


async def request_password_reset(
    session: AsyncSession, settings: Settings, context: RequestContext, email: str
) -> None:
    """A reset link to the address if it is an account's; the same answer, after the same
    counting, if it is not."""
    now = datetime.now(UTC)
    await _client_may_ask(session, settings, context, now)
    key = normalize_email(email)
    may_mail = await _address_may_receive(session, settings, key, now)
    member = await repository.get_member_by_email(session, key)
    if member is None or member.erased_at is not None or not may_mail:
        return
    await _mail_link(
        session,
        settings,
        member,
        LinkPurpose.password_reset,
        PASSWORD_RESET_REQUESTED,
        now=now,
        context=context,
    )


async def _set_password(
    session: AsyncSession, member: Member, password_hash: str, now: datetime
) -> Revocation:
    """A new password from a link: the address is proven, every link that the old state
    opened is spent, and every session and personal API token of the account ends."""
    member.password_hash = password_hash
    member.updated_at = now
    await _mark_verified(session, member, now)
    await repository.spend_links(
        session,
        member.id,
        [LinkPurpose.password_reset, LinkPurpose.invitation, LinkPurpose.verify_email],
        now,
    )
    return revocation(await revoke_everything(session, member.id, api_tokens=True))


async def reset_password(
    session: AsyncSession,
    hasher: PasswordHasher,
    context: RequestContext,
    token: str,
    password: str,
) -> Revocation:
    # Hashed before the link is claimed: the claim's row lock is then held for the writes only.
    password_hash = await hasher.hash(password)
    now = datetime.now(UTC)
    member, _ = await links.redeem(session, token, LinkPurpose.password_reset, now)
    revoked = await _set_password(session, member, password_hash, now)
    audit.record(
        session,
        actor_id=member.id,
        action="account.password_reset",
        target_type="member",
        target_id=member.id,
        context=context,
        details=revoked.model_dump(),
    )
    return revoked


# -- invitations --------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvitationOutcome:
    member_id: uuid.UUID
    sent: bool
    reason: str | None = None  # "active", "recent", "erased" when not sent


def _why_not_invitable(member: Member) -> str | None:
    if member.erased_at is not None:
        return "erased"
    if member.password_hash is not None:
        return "active"
    return None


async def invite(
    session: AsyncSession,
    settings: Settings,
    member: Member,
    *,
    actor_id: uuid.UUID | None,
    context: RequestContext | None,
    now: datetime | None = None,
) -> InvitationOutcome:
    """An invitation link to a person without a password (a no-op, said so, for others)."""
    now = now or datetime.now(UTC)
    reason = _why_not_invitable(member)
    if reason is not None:
        return InvitationOutcome(member.id, sent=False, reason=reason)
    await _mail_link(
        session,
        settings,
        member,
        LinkPurpose.invitation,
        INVITED,
        now=now,
        context=context,
        actor_id=actor_id,
    )
    return InvitationOutcome(member.id, sent=True)


async def invite_by_id(
    session: AsyncSession,
    settings: Settings,
    *,
    admin: Principal,
    context: RequestContext,
    member_id: uuid.UUID,
) -> InvitationOutcome:
    member = await session.get(Member, member_id)
    if member is None:
        raise NotFound("No such member.")
    return await invite(session, settings, member, actor_id=admin.id, context=context)


async def invite_many(
    session: AsyncSession,
    settings: Settings,
    *,
    admin: Principal,
    context: RequestContext,
    member_ids: list[uuid.UUID] | None,
) -> list[InvitationOutcome]:
    """Invitations to the given people, or to every approved member not yet activated. Safe to
    repeat: whoever was invited within ``invitation_resend_minutes`` is skipped ("recent")."""
    now = datetime.now(UTC)
    if member_ids is None:
        people = await repository.pending_invitees(session)
    else:
        found = {m.id: m for m in await repository.members_by_ids(session, member_ids)}
        missing = [str(i) for i in member_ids if i not in found]
        if missing:
            raise NotFound(f"No such members: {', '.join(missing[:10])}.")
        people = [found[i] for i in dict.fromkeys(member_ids)]
    last = await repository.last_link_at(session, [m.id for m in people], LinkPurpose.invitation)
    recent = now - timedelta(minutes=settings.invitation_resend_minutes)
    outcomes = []
    for member in people:
        if _why_not_invitable(member) is None and last.get(member.id, recent) > recent:
            outcomes.append(InvitationOutcome(member.id, sent=False, reason="recent"))
            continue
        outcomes.append(
            await invite(session, settings, member, actor_id=admin.id, context=context, now=now)
        )
    return outcomes


async def accept_invitation(
    session: AsyncSession,
    *,
    settings: Settings,
    codec: TokenCodec,
    hasher: PasswordHasher,
    context: RequestContext,
    token: str,
    password: str,
) -> TokenPair:
    """Set my first password from the invitation link; signed in at once, like a login."""
    password_hash = await hasher.hash(password)
    now = datetime.now(UTC)
    member, _ = await links.redeem(session, token, LinkPurpose.invitation, now)
    await _set_password(session, member, password_hash, now)
    audit.record(
        session,
        actor_id=member.id,
        action="account.invitation_accepted",
        target_type="member",
        target_id=member.id,
        context=context,
    )
    return await issue_login(session, codec, settings, member)


# -- the first admin ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdminCreated:
    member: Member
    created: bool
    roles_added: list[str]
    invitation: links.AccountLink | None


async def ensure_admin(
    session: AsyncSession, settings: Settings, *, email: str, full_name: str | None
) -> AdminCreated:
    """The admin with this address: created (admin and member) or given the roles it lacks,
    and, while it has no password, invited (a fresh link each run). Safe to repeat."""
    now = datetime.now(UTC)
    member = await repository.get_member_by_email(session, normalize_email(email))
    wanted = [Role.admin, Role.member]
    created = member is None
    if member is None:
        member, role_rows = new_account(
            email=email, full_name=full_name or email.partition("@")[0], roles=wanted
        )
        await repository.add_member(session, member, [r.role for r in role_rows])
        announce_created(session, member, wanted)
        added = [str(r) for r in wanted]
    else:
        held = set(await repository.get_roles(session, member.id))
        added = [str(r) for r in wanted if r not in held]
        if added:
            session.add_all(MemberRole(member_id=member.id, role=r) for r in added)
            member.version += 1
            await repository.bump_token_version(session, member.id)  # new roles, new tokens
        if full_name and not member.full_name:
            member.full_name = full_name
    audit.record(
        session,
        actor_id=None,
        action="account.admin_ensured",
        target_type="member",
        target_id=member.id,
        details={"created": created, "roles_added": added},
    )
    invitation = None
    if member.password_hash is None and member.erased_at is None:
        await invite(session, settings, member, actor_id=None, context=None, now=now)
        invitation = await links.newest_live(session, member, LinkPurpose.invitation, now)
    await session.flush()
    return AdminCreated(member=member, created=created, roles_added=added, invitation=invitation)
