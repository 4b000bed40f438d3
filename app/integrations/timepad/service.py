"""Timepad registrations: verified webhooks kept in the inbox, applied idempotently, and
reconciliation against Timepad's own list of orders.

Applying an order is idempotent: the order id links it to one registration; the same status
twice changes nothing; a status ranked below the one we hold arrived late and is ignored
(``mapping.RANK``), except during reconciliation, which reads the current state. The person
is matched by e-mail to a member; someone unknown becomes a guest registration.
"""

import hashlib
import hmac
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.db import attach_side_engine, compensate, side_engine
from app.core.errors import Forbidden, NotFound, ServiceUnavailable
from app.core.pagination import Page, decode_time_cursor, encode_time_cursor
from app.events import service as event_service
from app.events.lifecycle import ACTIVE
from app.integrations import repository as inbox
from app.integrations.timepad import mapping, repository
from app.integrations.timepad.client import TimepadClient, TimepadError
from app.integrations.timepad.mapping import Target, TimepadOrder
from app.integrations.timepad.schemas import (
    DriftEntry,
    DriftReport,
    UnusableMessage,
    WebhookAccepted,
)
from app.models.inbox import InboxMessage
from app.models.registration import Registration, RegistrationStatus
from app.registrations import service as registrations

logger = logging.getLogger("app.integrations.timepad")
R = RegistrationStatus
OURS = {
    Target.pending: R.pending_confirmation,
    Target.confirmed: R.confirmed,
    Target.cancelled: R.cancelled,
}


def verify_signature(settings: Settings, body: bytes, header: str | None) -> None:
    """``X-Hub-Signature: sha1=<hex HMAC-SHA1 of the raw body>``, compared in constant time.
    Without a configured secret every webhook is refused."""
    secret = settings.timepad_webhook_secret.get_secret_value()
    if not secret or not header or not header.startswith("sha1="):
        raise Forbidden("The webhook signature is missing or wrong.")
    expected = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    if not hmac.compare_digest(expected, header.removeprefix("sha1=").strip().lower()):
        raise Forbidden("The webhook signature is missing or wrong.")


async def receive(
    session: AsyncSession, body: bytes, headers: dict[str, str]
) -> tuple[WebhookAccepted, uuid.UUID | None]:
    """Store the message (committed before the answer): Timepad gets its 2xx at once, and
    the message is applied after the answer (``process_stored``) or by the retry job."""
    message = await inbox.store(
        session,
        source=repository.SOURCE,
        dedupe_key=hashlib.sha256(body).hexdigest(),
        body=body.decode("utf-8", errors="replace"),
        headers=headers,
    )
    if message is None:
        return WebhookAccepted(status="duplicate"), None
    return WebhookAccepted(status="accepted"), message.id


async def process_stored(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    message_id: uuid.UUID,
    side: AsyncEngine | None = None,
) -> None:
    """Apply one stored message in its own transaction. A message the retry job holds at the
    same moment is skipped here (SKIP LOCKED): it is applied once either way. With ``side``
    (``core.db.create_side_engine``) a paid order takes its seat on the side, as a member's
    confirmation does: orders arriving together do not queue on the event's row."""
    try:
        async with sessionmaker() as session:
            attach_side_engine(session, sessionmaker, side)
            try:
                message = await inbox.claim(session, message_id)
                if message is not None:
                    await process(session, settings, message)
                    await session.commit()
            except BaseException:
                await compensate(session)
                raise
    except Exception:  # the message is stored; the retry job applies it later
        logger.warning("timepad message %s not applied now", message_id, exc_info=True)


UNUSABLE_PREFIX = "unusable payload: "


async def unusable_messages(
    session: AsyncSession, *, cursor: str | None, limit: int
) -> Page[UnusableMessage]:
    """Signed Timepad bodies that can never be applied, newest first, for admins to look at
    (and to ask Timepad about): what was wrong and how large each was."""
    sort = "-received_at"
    rows = await inbox.unusable(
        session,
        "timepad",
        UNUSABLE_PREFIX,
        after=decode_time_cursor(cursor, sort),
        limit=limit,
    )
    page = rows[:limit]
    next_cursor = (
        encode_time_cursor(sort, page[-1].received_at, page[-1].id) if len(rows) > limit else None
    )
    return Page[UnusableMessage](
        items=[
            UnusableMessage(
                id=m.id,
                received_at=m.received_at,
                error=(m.last_error or "").removeprefix(UNUSABLE_PREFIX),
                size_bytes=len(m.body.encode()),
            )
            for m in page
        ],
        next_cursor=next_cursor,
    )


async def process(session: AsyncSession, settings: Settings, message: InboxMessage) -> bool:
    now = datetime.now(UTC)
    try:
        async with session.begin_nested():
            order = mapping.parse_body(message.body.encode())
            # One order in this transaction, which has not written its event's row: its seat
            # may be taken on the side (``registrations.confirm_seat``).
            side = side_engine(session)
            await apply_order(session, settings, order, authoritative=False, side=side)
    except mapping.BadPayload as exc:
        inbox.mark(message, now, None)  # nothing to retry: kept for the record
        message.last_error = f"{UNUSABLE_PREFIX}{exc}"
        # Once, without a traceback: it is never retried, and admins list it.
        logger.warning("timepad message %s is unusable: %s", message.id, exc)
        return True
    except Exception as exc:  # kept for the retry job; the message itself is safe
        await compensate(session)  # a seat taken on the side for the order goes back
        logger.warning("timepad message %s failed", message.id, exc_info=True)
        inbox.mark(message, now, f"{type(exc).__name__}: {exc}")
        return False
    inbox.mark(message, now, None)
    return True


async def apply_order(
    session: AsyncSession,
    settings: Settings,
    order: TimepadOrder,
    *,
    authoritative: bool,
    side: AsyncEngine | None = None,
) -> tuple[Registration | None, str | None]:
    """Bring our registration in line with the order; (registration, status before). ``side``:
    see ``registrations.confirm_seat``."""
    event = await event_service.find_by_timepad_id(session, order.event_id)
    if event is None:
        return None, None  # an event we do not run through Timepad
    registration = await registrations.by_timepad_order(session, order.order_id)
    now = datetime.now(UTC)
    if registration is None:
        registration = await registrations.find_or_add_for_order(
            session, event.id, email=order.email, name=order.name, order_id=order.order_id
        )
        if registration is None:
            return None, None
    before = registration.status
    held = registration.timepad_status
    if held is not None and not authoritative:
        if mapping.RANK[mapping.target_of(held)] > mapping.RANK[order.target]:
            return registration, before  # an older status arriving late
    registration.timepad_order_id = order.order_id
    registration.timepad_status = order.status_code
    registration.timepad_status_at = now
    await _move(session, settings, registration, order.target, now, side)
    return registration, before


async def _move(
    session: AsyncSession,
    settings: Settings,
    registration: Registration,
    target: Target,
    now: datetime,
    side: AsyncEngine | None,
) -> None:
    status = registration.status
    if target == Target.cancelled:
        if status not in (R.cancelled, R.checked_in, R.no_show):
            await registrations.cancel_registration(session, settings, registration, "timepad", now)
    elif target == Target.confirmed:
        if status == R.cancelled:
            registrations.reopen(registration, now)
        if registration.status in (R.pending_confirmation, R.offered):
            await registrations.confirm_seat(session, registration, now, side=side)
    elif status == R.cancelled:  # booked again after a cancellation
        registrations.reopen(registration, now)


# -- reconciliation ----------------------------------------------------------------------------


def client_for(settings: Settings, http: httpx.AsyncClient) -> TimepadClient:
    return TimepadClient(
        http, settings.timepad_api_url, settings.timepad_api_token.get_secret_value()
    )


async def reconcile(
    session: AsyncSession, settings: Settings, client: TimepadClient, event_id
) -> DriftReport:
    """Pull every order of the event from Timepad, repair what the webhooks missed, and say
    what differed."""
    event = await event_service.find(session, event_id)
    if event is None:
        raise NotFound("No such event.")
    if event.timepad_event_id is None:
        raise NotFound("This event is not linked to a Timepad event.")
    try:
        orders = await fetch_orders(client, event.timepad_event_id)
    except TimepadError as exc:
        raise ServiceUnavailable(f"{exc}; try again later.") from exc
    return await apply_orders(session, settings, event.id, orders)


async def fetch_orders(client: TimepadClient, timepad_event_id: int) -> list[dict[str, Any]]:
    """Every order of a Timepad event, as Timepad sends them (no database involved)."""
    return [raw async for raw in client.orders(timepad_event_id)]


async def apply_orders(
    session: AsyncSession, settings: Settings, event_id, orders: list[dict[str, Any]]
) -> DriftReport:
    """Apply the orders Timepad holds for an event, authoritatively, and say what differed."""
    report = DriftReport(orders_in_timepad=0, missing_here=[], status_differs=[], missing_there=[])
    seen: set[int] = set()
    for raw in orders:
        try:
            order = mapping.parse_order(raw)
        except mapping.BadPayload:
            continue
        report.orders_in_timepad += 1
        seen.add(order.order_id)
        known = await registrations.by_timepad_order(session, order.order_id)
        held = known.timepad_status if known else None
        registration, before = await apply_order(session, settings, order, authoritative=True)
        entry = DriftEntry(
            order_id=order.order_id,
            email=order.email,
            timepad_status=order.status_code,
            our_status=before if known else None,
        )
        if known is None and registration is not None:
            report.missing_here.append(entry)
        elif known is not None and held is not None and (mapping.target_of(held) != order.target):
            report.status_differs.append(entry)
    for registration in await repository.registrations_with_orders(session, event_id):
        if registration.timepad_order_id not in seen:
            report.missing_there.append(
                DriftEntry(
                    order_id=registration.timepad_order_id or 0,
                    email=registration.guest_email,
                    timepad_status=None,
                    our_status=registration.status,
                )
            )
    await session.flush()
    return report


# -- scheduled jobs ----------------------------------------------------------------------------


async def retry_inbox(session: AsyncSession, settings: Settings, now: datetime) -> int:
    messages = await inbox.unprocessed(session, repository.SOURCE, 100)
    for message in messages:
        await process(session, settings, message)
    return len(messages)


async def reconcile_open_events(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Scheduled job: reconcile every event whose registration is still changing. One event
    Timepad fails to answer does not stop the others. The job owns its units of work: no
    transaction is open while Timepad answers (on SQLite it would hold the write lock), and
    each event's repairs commit on their own."""
    if not settings.timepad_api_token.get_secret_value():
        return 0
    linked = [
        (event.id, event.timepad_event_id)
        for event in await event_service.linked_to_timepad(session, list(ACTIVE))
        if event.timepad_event_id is not None
    ]
    await session.commit()
    done = 0
    async with httpx.AsyncClient(
        timeout=settings.timepad_timeout_seconds, follow_redirects=False, trust_env=False
    ) as http:
        client = client_for(settings, http)
        for event_id, timepad_event_id in linked:
            try:
                orders = await fetch_orders(client, timepad_event_id)
                await apply_orders(session, settings, event_id, orders)
                await session.commit()
                done += 1
            except Exception:
                await session.rollback()
                logger.warning("reconciling event %s with Timepad failed", event_id, exc_info=True)
    return done
