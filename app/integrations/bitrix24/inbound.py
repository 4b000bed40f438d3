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
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any
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


# What Bitrix24 answered for each contact: the contact, None when it is gone, or "later".
Fetched = dict[int, Mapping[str, Any] | None | Bitrix24RetryLater]
Checkpoint = Callable[[], Awaitable[None]]


def _changed_contact_id(message: InboxMessage) -> tuple[str, int | None]:
    form = parse_form(message.body.encode())
    event = form.get("event", "").upper()
    try:
        return event, int(form.get("data[FIELDS][ID]", ""))
    except ValueError:
        return event, None


async def _needs_the_crm(session: AsyncSession, crm_id: int) -> bool:
    """Is this a contact of ours whose member lets the CRM correct their phone?"""
    link = await repository.link_by_crm_id(session, "contact", crm_id)
    if link is None:
        return False
    member = await repository.get_member(session, link.subject_id)
    return (
        member is not None
        and member.erased_at is None
        and "phone" in mapping.allowed_private_fields(member)
    )


async def _fetch(client: Bitrix24Client, crm_ids: set[int]) -> Fetched:
    fetched: Fetched = {}
    for crm_id in sorted(crm_ids):
        try:
            fetched[crm_id] = await client.call("crm.contact.get", {"id": crm_id})
        except Bitrix24NotFound:
            fetched[crm_id] = None
        except Bitrix24RetryLater as later:
            fetched[crm_id] = later
    return fetched


async def process(
    session: AsyncSession, message: InboxMessage, fetched: Fetched, now: datetime
) -> None:
    event, crm_id = _changed_contact_id(message)
    if crm_id is None:
        inbox.mark(message, now, None)
        message.last_error = "no contact id: ignored"
        return
    answer = fetched.get(crm_id) if event in CONTACT_CHANGED else None
    if isinstance(answer, Bitrix24RetryLater):
        inbox.mark(message, now, f"retry later: {answer}")
        return
    async with session.begin_nested():
        if answer is not None:
            await _contact_changed(session, answer, crm_id, now)
        elif event == CONTACT_DELETED:
            link = await repository.link_by_crm_id(session, "contact", crm_id)
            if link is not None:
                await repository.delete_link(session, link)
    inbox.mark(message, now, None)


async def _contact_changed(
    session: AsyncSession, contact: Mapping[str, Any], crm_id: int, now: datetime
) -> None:
    # Read again after the CRM answered: the member may have changed their consent meanwhile.
    if not await _needs_the_crm(session, crm_id):
        return
    link = await repository.link_by_crm_id(session, "contact", crm_id)
    assert link is not None
    member = await repository.get_member(session, link.subject_id)
    assert member is not None
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


async def process_pending(
    session: AsyncSession,
    client: Bitrix24Client,
    limit: int = 100,
    *,
    checkpoint: Checkpoint | None = None,
) -> int:
    """Apply the stored events. The contacts they name are fetched first, after
    ``checkpoint`` (the job commits there), so no transaction is open while Bitrix24
    answers; each event is then applied with its member change and outbox event together."""
    messages = await inbox.unprocessed(session, SOURCE, limit)
    wanted: set[int] = set()
    for message in messages:
        event, crm_id = _changed_contact_id(message)
        if event not in CONTACT_CHANGED or crm_id is None:
            continue
        if await _needs_the_crm(session, crm_id):
            wanted.add(crm_id)
    if checkpoint is not None:
        await checkpoint()
    fetched = await _fetch(client, wanted)
    now = datetime.now(UTC)
    for message in messages:
        await process(session, message, fetched, now)
    return len(messages)


async def retry_inbox(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Scheduled job: apply the stored events (when the CRM is configured)."""
    if not settings.bitrix24_enabled:
        return 0
    async with httpx.AsyncClient(follow_redirects=False, trust_env=False) as http:
        return await process_pending(
            session, client_from_settings(http, settings), checkpoint=session.commit
        )
