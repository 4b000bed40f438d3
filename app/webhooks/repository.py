"""Every query of the webhook management API and of the webhook channel."""

import uuid
from datetime import datetime

from sqlalchemy import select, true, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.outbox import OutboxEvent
from app.models.webhook import (
    Delivery,
    DeliveryAttempt,
    DeliveryChannel,
    DeliveryStatus,
    WebhookSubscription,
)


async def enabled_subscriptions(session: AsyncSession) -> list[WebhookSubscription]:
    """All enabled subscriptions. The list is small (tens), so matching event types happens
    in the channel rather than in a dialect-specific JSON containment query."""
    rows = await session.execute(
        select(WebhookSubscription).where(WebhookSubscription.enabled == true())
    )
    return list(rows.scalars())


async def get_subscription(
    session: AsyncSession, subscription_id: uuid.UUID, *, for_update: bool = False
) -> WebhookSubscription | None:
    stmt = select(WebhookSubscription).where(WebhookSubscription.id == subscription_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_subscriptions(
    session: AsyncSession, *, before: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[WebhookSubscription]:
    stmt = select(WebhookSubscription)
    if before is not None:
        stmt = stmt.where(
            tuple_(WebhookSubscription.created_at, WebhookSubscription.id) < tuple_(*before)
        )
    stmt = stmt.order_by(WebhookSubscription.created_at.desc(), WebhookSubscription.id.desc())
    return list((await session.execute(stmt.limit(limit + 1))).scalars())


async def list_deliveries(
    session: AsyncSession,
    subscription_id: uuid.UUID,
    *,
    status: DeliveryStatus | None,
    event_type: str | None,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[tuple[Delivery, OutboxEvent]]:
    stmt = (
        select(Delivery, OutboxEvent)
        .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
        .where(Delivery.subscription_id == subscription_id)
    )
    if status is not None:
        stmt = stmt.where(Delivery.status == status)
    if event_type is not None:
        stmt = stmt.where(OutboxEvent.type == event_type)
    if before is not None:
        stmt = stmt.where(tuple_(Delivery.created_at, Delivery.id) < tuple_(*before))
    stmt = stmt.order_by(Delivery.created_at.desc(), Delivery.id.desc()).limit(limit + 1)
    return [(row[0], row[1]) for row in (await session.execute(stmt)).all()]


async def get_delivery(
    session: AsyncSession, subscription_id: uuid.UUID, delivery_id: uuid.UUID
) -> tuple[Delivery, OutboxEvent] | None:
    row = (
        await session.execute(
            select(Delivery, OutboxEvent)
            .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
            .where(Delivery.id == delivery_id, Delivery.subscription_id == subscription_id)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def attempts_of(session: AsyncSession, delivery_id: uuid.UUID) -> list[DeliveryAttempt]:
    rows = await session.execute(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id == delivery_id)
        .order_by(DeliveryAttempt.attempted_at, DeliveryAttempt.id)
    )
    return list(rows.scalars())


async def requeue(session: AsyncSession, delivery_ids: list[uuid.UUID], now: datetime) -> int:
    """Make deliveries due again; the attempt counter restarts so the schedule applies anew."""
    if not delivery_ids:
        return 0
    result = await session.execute(
        update(Delivery)
        .where(Delivery.id.in_(delivery_ids))
        .values(
            status=DeliveryStatus.pending,
            next_attempt_at=now,
            attempts=0,
            completed_at=None,
            lease_until=None,
            lease_token=None,
        )
    )
    return int(result.rowcount or 0)


async def failed_delivery_ids_since(
    session: AsyncSession, subscription_id: uuid.UUID, since: datetime, limit: int
) -> list[uuid.UUID]:
    rows = await session.execute(
        select(Delivery.id)
        .where(
            Delivery.subscription_id == subscription_id,
            Delivery.channel == DeliveryChannel.webhook,
            Delivery.status == DeliveryStatus.failed,
            Delivery.created_at >= since,
        )
        .order_by(Delivery.created_at)
        .limit(limit)
    )
    return list(rows.scalars())
