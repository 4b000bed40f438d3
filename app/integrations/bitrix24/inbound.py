"""Events Bitrix24 sends us (its outgoing webhook): verified by the application token,
stored raw in the inbox, applied idempotently by re-reading the contact.

What the community takes from the CRM: a corrected phone number, and only for a member who
lets the CRM hold their phone (the same consent that sends it there). Nothing else flows back:
the profile is the member's own. A contact deleted in the CRM loses its link (the next sync
of that member finds or creates it again). Every other event is stored and ignored.
"""

import hashlib
import hmac
import logging
from datetime import UTC, datetime
from urllib.parse import parse_qs

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import audit
from app.core.config import Settings
from app.core.errors import Forbidden
from app.core.outbox import emit
from app.integrations import repository as inbox
from app.integrations.bitrix24 import mapping, repository
from app.integrations.bitrix24.client import (
    Bitrix24Client,
    Bitrix24NotFound,
    Bitrix24RetryLater,
    client_from_settings,
)
from app.members.events import MEMBER_UPDATED, MemberUpdatedData
from app.models.inbox import InboxMessage

logger = logging.getLogger("app.integrations.bitrix24")
SOURCE = "bitrix24"
CONTACT_CHANGED = frozenset({"ONCRMCONTACTUPDATE", "ONCRMCONTACTADD"})
CONTACT_DELETED = "ONCRMCONTACTDELETE"


def parse_form(body: bytes) -> dict[str, str]:
    """The PHP-style form (``data[FIELDS][ID]=89&auth[application_token]=...``), flat."""
    try:
        pairs = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        return {}
    return {key: values[0] for key, values in pairs.items() if values}


def verify_token(settings: Settings, form: dict[str, str]) -> None:
    expected = settings.bitrix24_application_token.get_secret_value()
    given = form.get("auth[application_token]", "")
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        raise Forbidden("The application token is missing or wrong.")


async def receive(session: AsyncSession, body: bytes) -> bool:
    """Store the event; False when the very same one was stored before."""
    message = await inbox.store(
        session,
        source=SOURCE,
        dedupe_key=hashlib.sha256(body).hexdigest(),
        body=body.decode("utf-8", errors="replace"),
        headers={},
    )
    return message is not None


async def process(session: AsyncSession, client: Bitrix24Client, message: InboxMessage) -> None:
    now = datetime.now(UTC)
    form = parse_form(message.body.encode())
    event = form.get("event", "").upper()
    try:
        crm_id = int(form.get("data[FIELDS][ID]", ""))
    except ValueError:
        inbox.mark(message, now, None)
        message.last_error = "no contact id: ignored"
        return
    try:
        async with session.begin_nested():
            if event in CONTACT_CHANGED:
                await _contact_changed(session, client, crm_id, now)
            elif event == CONTACT_DELETED:
                link = await repository.link_by_crm_id(session, "contact", crm_id)
                if link is not None:
                    await repository.delete_link(session, link)
    except Bitrix24RetryLater as exc:
        inbox.mark(message, now, f"retry later: {exc}")
        return
    inbox.mark(message, now, None)


async def _contact_changed(
    session: AsyncSession, client: Bitrix24Client, crm_id: int, now: datetime
) -> None:
    link = await repository.link_by_crm_id(session, "contact", crm_id)
    if link is None:
        return  # not a contact of ours
    member = await repository.get_member(session, link.subject_id)
    if member is None or member.erased_at is not None:
        return
    if "phone" not in mapping.allowed_private_fields(member):
        return  # the CRM may not hold this member's phone, so it cannot correct it either
    try:
        contact = await client.call("crm.contact.get", {"id": crm_id})
    except Bitrix24NotFound:
        return
    phones = [
        mapping.normalize_phone(str(e.get("VALUE") or ""))
        for e in (contact.get("PHONE") or [])
        if isinstance(e, dict)
    ]
    phones = [p for p in phones if p]
    current = mapping.normalize_phone(member.phone or "")
    # One number in the CRM that differs from ours: a correction made there. Several numbers
    # are the CRM's own business; no number is not a correction either.
    if len(phones) != 1 or phones[0] == current:
        return
    member.phone = phones[0]
    member.version += 1
    member.updated_at = now
    # Record what the CRM now holds as sent, so the next sync does not echo it back.
    link.field_hashes = {
        **link.field_hashes,
        "PHONE": mapping.field_hashes({"PHONE": phones[0]})["PHONE"],
    }
    link.fields_hash = mapping.digest(link.field_hashes)
    audit.record(
        session,
        actor_id=None,
        action="member.updated_from_crm",
        target_type="member",
        target_id=member.id,
        details={"fields": ["phone"], "crm_id": crm_id},
    )
    emit(
        session,
        MEMBER_UPDATED,
        MemberUpdatedData(
            id=member.id, version=member.version, fields=["phone"], privacy_changed=False
        ),
    )
    await session.flush()


async def process_pending(session: AsyncSession, client: Bitrix24Client, limit: int = 100) -> int:
    messages = await inbox.unprocessed(session, SOURCE, limit)
    for message in messages:
        await process(session, client, message)
    return len(messages)


async def retry_inbox(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Scheduled job: apply the stored events (when the CRM is configured)."""
    if not settings.bitrix24_enabled:
        return 0
    async with httpx.AsyncClient(follow_redirects=False, trust_env=False) as http:
        return await process_pending(session, client_from_settings(http, settings))
