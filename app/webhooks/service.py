"""Webhook subscriptions for admins: create, change, rotate secrets, inspect and redeliver."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.core import audit
from app.core.config import Settings
from app.core.context import RequestContext
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.etag import check_if_match, etag_of
from app.core.http import check_url
from app.core.outbox import CATALOGUE, EventType
from app.core.pagination import Page, decode_time_cursor, encode_time_cursor
from app.models.outbox import OutboxEvent
from app.models.webhook import Delivery, DeliveryChannel, DeliveryStatus, WebhookSubscription
from app.webhooks import repository, signing
from app.webhooks.channel import message_id
from app.webhooks.events import PING, PingData
from app.webhooks.payloads import envelope
from app.webhooks.schemas import (
    AttemptRead,
    DeliveryDetail,
    DeliveryRead,
    EventTypeRead,
    RedeliveryAccepted,
    SubscriptionCreate,
    SubscriptionRead,
    SubscriptionUpdate,
    SubscriptionWithSecret,
)

_SORT = "-created_at"
# One call requeues at most this many; the answer says how many, the caller may repeat.
REDELIVER_BATCH = 1000


def event_type_catalogue() -> list[EventTypeRead]:
    return [_event_type_read(t) for t in CATALOGUE.all()]


def _event_type_read(event_type: EventType) -> EventTypeRead:
    return EventTypeRead(
        name=event_type.name,
        version=event_type.version,
        description=event_type.description,
        subject_type=event_type.subject_type,
        data_schema=event_type.json_schema(),
    )


def _check_event_types(names: list[str]) -> list[str]:
    unknown = sorted({n for n in names if CATALOGUE.named(n) is None})
    if unknown:
        raise InvalidInput(
            f"Unknown event types: {', '.join(unknown)}. See /api/v1/webhooks/event-types."
        )
    return sorted(set(names))


def subscription_view(subscription: WebhookSubscription) -> SubscriptionRead:
    rotation_ends = subscription.previous_secret_expires_at
    if rotation_ends is not None and rotation_ends <= datetime.now(UTC):
        rotation_ends = None
    return SubscriptionRead(
        id=subscription.id,
        url=subscription.url,
        event_types=subscription.event_types,
        description=subscription.description,
        enabled=subscription.enabled,
        disabled_reason=subscription.disabled_reason,
        failing_since=subscription.failing_since,
        secret_rotation_ends_at=rotation_ends,
        created_at=subscription.created_at,
        updated_at=subscription.updated_at,
        version=subscription.version,
    )


def _with_secret(subscription: WebhookSubscription) -> SubscriptionWithSecret:
    return SubscriptionWithSecret(
        **subscription_view(subscription).model_dump(), secret=subscription.secret
    )


async def _subscription(
    session: AsyncSession,
    subscription_id: uuid.UUID,
    *,
    for_update: bool = False,
    enabled: bool = False,
) -> WebhookSubscription:
    subscription = await repository.get_subscription(
        session, subscription_id, for_update=for_update
    )
    if subscription is None:
        raise NotFound("No such webhook subscription.")
    if enabled and not subscription.enabled:
        raise Conflict("The subscription is disabled; enable it first, then send again.")
    return subscription


async def create_subscription(
    session: AsyncSession,
    settings: Settings,
    admin: Principal,
    context: RequestContext,
    data: SubscriptionCreate,
) -> SubscriptionWithSecret:
    check_url(data.url, settings.webhook_allowed_http_hosts)
    subscription = WebhookSubscription(
        url=data.url,
        event_types=_check_event_types(data.event_types),
        description=data.description,
        enabled=data.enabled,
        disabled_reason=None if data.enabled else "admin",
        secret=signing.new_secret(),
        created_by=admin.id,
    )
    session.add(subscription)
    await session.flush()
    audit.record(
        session,
        actor_id=admin.id,
        action="webhook.create",
        target_type="webhook_subscription",
        target_id=subscription.id,
        context=context,
        details={"event_types": subscription.event_types},
    )
    return _with_secret(subscription)


async def list_subscriptions(
    session: AsyncSession, *, cursor: str | None, limit: int
) -> Page[SubscriptionRead]:
    rows = await repository.list_subscriptions(
        session, before=decode_time_cursor(cursor, _SORT), limit=limit
    )
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = encode_time_cursor(_SORT, page[-1].created_at, page[-1].id)
    return Page[SubscriptionRead](
        items=[subscription_view(s) for s in page], next_cursor=next_cursor
    )


async def get_subscription(session: AsyncSession, subscription_id: uuid.UUID) -> SubscriptionRead:
    return subscription_view(await _subscription(session, subscription_id))


async def update_subscription(
    session: AsyncSession,
    settings: Settings,
    admin: Principal,
    context: RequestContext,
    subscription_id: uuid.UUID,
    data: SubscriptionUpdate,
    if_match: str | None,
) -> SubscriptionRead:
    subscription = await _subscription(session, subscription_id, for_update=True)
    check_if_match(if_match, etag_of(subscription_view(subscription)))
    changed = data.model_dump(exclude_unset=True)
    if "url" in changed:
        if data.url is None:
            raise InvalidInput("url cannot be removed.")
        check_url(data.url, settings.webhook_allowed_http_hosts)
        subscription.url = data.url
    if "event_types" in changed:
        subscription.event_types = _check_event_types(data.event_types or [])
    if data.description is not None:
        subscription.description = data.description
    if data.enabled is not None and data.enabled != subscription.enabled:
        subscription.enabled = data.enabled
        subscription.disabled_reason = None if data.enabled else "admin"
        subscription.failing_since = None
    subscription.version += 1
    subscription.updated_at = datetime.now(UTC)
    audit.record(
        session,
        actor_id=admin.id,
        action="webhook.update",
        target_type="webhook_subscription",
        target_id=subscription.id,
        context=context,
        details={"fields": sorted(changed)},
    )
    return subscription_view(subscription)


async def delete_subscription(
    session: AsyncSession, admin: Principal, context: RequestContext, subscription_id: uuid.UUID
) -> None:
    subscription = await _subscription(session, subscription_id, for_update=True)
    await session.delete(subscription)
    audit.record(
        session,
        actor_id=admin.id,
        action="webhook.delete",
        target_type="webhook_subscription",
        target_id=subscription_id,
        context=context,
    )


async def rotate_secret(
    session: AsyncSession,
    settings: Settings,
    admin: Principal,
    context: RequestContext,
    subscription_id: uuid.UUID,
) -> SubscriptionWithSecret:
    """A new secret; the current one keeps signing beside it for the rotation period, so
    receivers can switch without losing a delivery."""
    subscription = await _subscription(session, subscription_id, for_update=True)
    now = datetime.now(UTC)
    subscription.previous_secret = subscription.secret
    subscription.previous_secret_expires_at = now + timedelta(
        hours=settings.webhook_secret_rotation_hours
    )
    subscription.secret = signing.new_secret()
    subscription.version += 1
    subscription.updated_at = now
    audit.record(
        session,
        actor_id=admin.id,
        action="webhook.rotate_secret",
        target_type="webhook_subscription",
        target_id=subscription.id,
        context=context,
    )
    return _with_secret(subscription)


async def ping(session: AsyncSession, admin: Principal, subscription_id: uuid.UUID) -> DeliveryRead:
    """A `webhook.ping` for this subscription only: the event is stored already dispatched,
    with its single delivery, so no other subscription receives it."""
    subscription = await _subscription(session, subscription_id, enabled=True)
    now = datetime.now(UTC)
    event = OutboxEvent(
        type=PING.name,
        type_version=PING.version,
        occurred_at=now,
        subject_type=PING.subject_type,
        subject_id=subscription.id,
        data=PingData(id=subscription.id, version=subscription.version).model_dump(mode="json"),
        dispatched_at=now,
    )
    session.add(event)
    await session.flush()
    delivery = Delivery(
        event_id=event.id,
        channel=DeliveryChannel.webhook,
        subscription_id=subscription.id,
        next_attempt_at=now,
    )
    session.add(delivery)
    await session.flush()
    return delivery_view(delivery, event)


def delivery_view(delivery: Delivery, event: OutboxEvent) -> DeliveryRead:
    return DeliveryRead(
        id=delivery.id,
        event_id=event.id,
        event_type=event.type,
        message_id=message_id(event),
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=(
            delivery.next_attempt_at if delivery.status == DeliveryStatus.pending else None
        ),
        last_attempt_at=delivery.last_attempt_at,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        completed_at=delivery.completed_at,
    )


async def list_deliveries(
    session: AsyncSession,
    subscription_id: uuid.UUID,
    *,
    status: DeliveryStatus | None,
    event_type: str | None,
    cursor: str | None,
    limit: int,
) -> Page[DeliveryRead]:
    await _subscription(session, subscription_id)
    rows = await repository.list_deliveries(
        session,
        subscription_id,
        status=status,
        event_type=event_type,
        before=decode_time_cursor(cursor, _SORT),
        limit=limit,
    )
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1][0]
        next_cursor = encode_time_cursor(_SORT, last.created_at, last.id)
    return Page[DeliveryRead](items=[delivery_view(d, e) for d, e in page], next_cursor=next_cursor)


async def _delivery(
    session: AsyncSession, subscription_id: uuid.UUID, delivery_id: uuid.UUID
) -> tuple[Delivery, OutboxEvent]:
    found = await repository.get_delivery(session, subscription_id, delivery_id)
    if found is None:
        raise NotFound("No such delivery for this subscription.")
    return found


async def get_delivery(
    session: AsyncSession, subscription_id: uuid.UUID, delivery_id: uuid.UUID
) -> DeliveryDetail:
    delivery, event = await _delivery(session, subscription_id, delivery_id)
    attempts = await repository.attempts_of(session, delivery.id)
    return DeliveryDetail(
        **delivery_view(delivery, event).model_dump(),
        payload=envelope(event),
        attempt_log=[AttemptRead.model_validate(a) for a in attempts],
    )


async def redeliver(
    session: AsyncSession,
    admin: Principal,
    context: RequestContext,
    subscription_id: uuid.UUID,
    delivery_id: uuid.UUID,
) -> RedeliveryAccepted:
    """Send one delivery again (whatever its state), with the same `webhook-id`."""
    await _subscription(session, subscription_id, enabled=True)
    delivery, _ = await _delivery(session, subscription_id, delivery_id)
    count = await repository.requeue(session, [delivery.id], datetime.now(UTC))
    audit.record(
        session,
        actor_id=admin.id,
        action="webhook.redeliver",
        target_type="webhook_subscription",
        target_id=subscription_id,
        context=context,
        details={"delivery_ids": [str(delivery.id)]},
    )
    return RedeliveryAccepted(requeued=count, delivery_ids=[delivery.id])


async def redeliver_failed(
    session: AsyncSession,
    admin: Principal,
    context: RequestContext,
    subscription_id: uuid.UUID,
    since: datetime,
) -> RedeliveryAccepted:
    if since.tzinfo is None:
        raise InvalidInput("since needs a time zone, e.g. a trailing Z.")
    await _subscription(session, subscription_id, enabled=True)
    ids = await repository.failed_delivery_ids_since(
        session, subscription_id, since, REDELIVER_BATCH
    )
    count = await repository.requeue(session, ids, datetime.now(UTC))
    audit.record(
        session,
        actor_id=admin.id,
        action="webhook.redeliver",
        target_type="webhook_subscription",
        target_id=subscription_id,
        context=context,
        details={"count": count, "since": since.isoformat()},
    )
    return RedeliveryAccepted(requeued=count, delivery_ids=ids)
