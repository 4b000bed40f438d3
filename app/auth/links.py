"""E-mailed account links (verify the address, accept an invitation, reset the password):
made, put into e-mails, and redeemed exactly once.

Every kind follows the same rules: a token of 256 bits that only the server can make, stored
as its digest, single use, expiring, and bound to the account's state when it was made (see
``state_of``), so that a reset link dies once the password changes and an invitation dies
once accepted. A used, expired, unknown or outdated token is one and the same refusal.
"""

import hashlib
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import repository
from app.core.config import Settings
from app.core.errors import AppError
from app.core.security import link_token, new_link_salt, token_digest
from app.models.member import Member
from app.models.token import AccountLink, LinkPurpose

# The page of the web app that receives each kind: `{DL_WEB_APP_URL}/<page>?token=<token>`.
PAGES = {
    LinkPurpose.verify_email: "verify-email",
    LinkPurpose.invitation: "accept-invitation",
    LinkPurpose.password_reset: "reset-password",
}


class InvalidLink(AppError):
    status, slug, title = 400, "invalid-link", "Invalid or expired link"


# One wording for unknown, used, expired and outdated links: the answer tells nothing more.
INVALID = (
    "This link is not valid: it was used already, has expired, or was replaced. Ask for a new one."
)


def lifetime(settings: Settings, purpose: LinkPurpose) -> timedelta:
    return {
        LinkPurpose.verify_email: timedelta(hours=settings.verification_link_hours),
        LinkPurpose.invitation: timedelta(days=settings.invitation_link_days),
        LinkPurpose.password_reset: timedelta(minutes=settings.password_reset_link_minutes),
    }[purpose]


def state_of(member: Member, purpose: LinkPurpose) -> str:
    """What the link is bound to: the address for all kinds, and the password for invitations
    and resets (setting a password, by any route, kills those)."""
    parts = [purpose.value, member.email_normalized]
    if purpose != LinkPurpose.verify_email:
        parts.append(member.password_hash or "no password")
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


async def issue(
    session: AsyncSession, settings: Settings, member: Member, purpose: LinkPurpose, now: datetime
) -> AccountLink:
    link = AccountLink(
        member_id=member.id,
        purpose=purpose,
        token_hash="",
        salt=new_link_salt(),
        state=state_of(member, purpose),
        created_at=now,
        expires_at=now + lifetime(settings, purpose),
    )
    link.token_hash = token_digest(token_of(settings, link))
    await repository.add_link(session, link)
    return link


def token_of(settings: Settings, link: AccountLink) -> str:
    return link_token(settings.jwt_secret, link.id, link.salt)


def url_of(settings: Settings, link: AccountLink) -> str:
    page = PAGES[LinkPurpose(link.purpose)]
    return f"{settings.web_app_url.rstrip('/')}/{page}?token={token_of(settings, link)}"


async def newest_live(
    session: AsyncSession, member: Member, purpose: LinkPurpose, now: datetime
) -> AccountLink | None:
    """The link an e-mail written now carries: the newest of its kind still good."""
    link = await repository.newest_live_link(session, member.id, purpose, now)
    if link is None or link.state != state_of(member, purpose):
        return None
    return link


async def redeem(
    session: AsyncSession, token: str, purpose: LinkPurpose, now: datetime
) -> tuple[Member, AccountLink]:
    """The account the token opens, with the link now spent; ``InvalidLink`` otherwise."""
    link = await repository.link_by_digest(session, token_digest(token))
    if link is None or link.purpose != purpose or link.used_at is not None:
        raise InvalidLink(INVALID)
    if link.expires_at <= now:
        raise InvalidLink(INVALID)
    member = await session.get(Member, link.member_id)
    if member is None or member.erased_at is not None or link.state != state_of(member, purpose):
        raise InvalidLink(INVALID)
    if not await repository.claim_link(session, link.id, now):
        raise InvalidLink(INVALID)
    await session.refresh(member)  # read again after the claim: a concurrent winner changed it
    if link.state != state_of(member, purpose):
        raise InvalidLink(INVALID)
    return member, link
