"""The worker's queries: claiming outbox rows and due deliveries without two workers ever
holding the same row (`FOR UPDATE SKIP LOCKED`; SQLite has one writer and ignores it)."""

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.job import JobRun
from app.models.outbox import OutboxEvent
from app.models.webhook import Delivery, DeliveryAttempt, DeliveryStatus, WebhookSubscription


async def claim_undispatched_events(session: AsyncSession, limit: int) -> list[OutboxEvent]:
    rows = await session.execute(
        select(OutboxEvent)
        .where(OutboxEvent.dispatched_at.is_(None))
        .order_by(OutboxEvent.occurred_at, OutboxEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows.scalars())


async def add_deliveries(session: AsyncSession, rows: Sequence[Mapping[str, object]]) -> None:
    if rows:
        await session.execute(insert(Delivery), rows)


async def mark_dispatched(session: AsyncSession, event_ids: list[uuid.UUID], now: datetime) -> None:
    await session.execute(
        update(OutboxEvent).where(OutboxEvent.id.in_(event_ids)).values(dispatched_at=now)
    )


async def claim_due_deliveries(
    session: AsyncSession,
    now: datetime,
    lease: timedelta,
    token: uuid.UUID,
    limit: int,
    in_flight: Mapping[uuid.UUID, int] | None = None,
    per_subscription: int | None = None,
) -> list[uuid.UUID]:
    """Take a lease on up to ``limit`` due deliveries. A lease that ran out (its worker
    crashed) is due again. With ``per_subscription``, no subscription gets more than that
    many attempts in flight, counting the ``in_flight`` ones; the rows left out stay due."""
    in_flight = in_flight or {}
    query = (
        select(Delivery.id, Delivery.subscription_id)
        .where(
            Delivery.status == DeliveryStatus.pending,
            Delivery.next_attempt_at <= now,
            or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
        )
        .order_by(Delivery.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if per_subscription is not None:
        full = [s for s, count in in_flight.items() if count >= per_subscription]
        if full:
            query = query.where(
                or_(Delivery.subscription_id.is_(None), Delivery.subscription_id.not_in(full))
            )
    taken: dict[uuid.UUID, int] = dict(in_flight)
    ids = []
    for delivery_id, subscription_id in (await session.execute(query)).all():
        if per_subscription is not None and subscription_id is not None:
            if taken.get(subscription_id, 0) >= per_subscription:
                continue
            taken[subscription_id] = taken.get(subscription_id, 0) + 1
        ids.append(delivery_id)
    if ids:
        await session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids))
            .values(lease_until=now + lease, lease_token=token)
        )
    return ids


async def load_jobs(
    session: AsyncSession, delivery_ids: list[uuid.UUID]
) -> list[tuple[Delivery, OutboxEvent, WebhookSubscription | None]]:
    rows = await session.execute(
        select(Delivery, OutboxEvent, WebhookSubscription)
        .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
        .outerjoin(WebhookSubscription, WebhookSubscription.id == Delivery.subscription_id)
        .where(Delivery.id.in_(delivery_ids))
    )
    return [(row[0], row[1], row[2]) for row in rows.all()]


async def finish_attempt(
    session: AsyncSession,
    delivery_id: uuid.UUID,
    token: uuid.UUID,
    values: dict[str, object],
) -> bool:
    """Record the attempt's effect on the delivery if this worker still holds the lease."""
    result = await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.lease_token == token)
        .values(lease_until=None, lease_token=None, **values)
    )
    return bool(result.rowcount)


async def release_leases(session: AsyncSession, token: uuid.UUID) -> int:
    """Give back what a stopping worker still holds, so others take it at once."""
    result = await session.execute(
        update(Delivery)
        .where(Delivery.lease_token == token, Delivery.status == DeliveryStatus.pending)
        .values(lease_until=None, lease_token=None)
    )
    return int(result.rowcount or 0)


async def add_attempt(session: AsyncSession, **values: object) -> None:
    # Core insert: the attempt log is written once and never read back in this transaction.
    await session.execute(insert(DeliveryAttempt).values(id=uuid.uuid4(), **values))


async def clear_failing(session: AsyncSession, subscription_id: uuid.UUID) -> None:
    await session.execute(
        update(WebhookSubscription)
        .where(
            WebhookSubscription.id == subscription_id,
            WebhookSubscription.failing_since.is_not(None),
        )
        .values(failing_since=None)
    )


async def mark_failing(
    session: AsyncSession, subscription_id: uuid.UUID, now: datetime
) -> datetime | None:
    """Start the failure record if none is running; the start of the current record, or
    None when the subscription is gone or disabled."""
    await session.execute(
        update(WebhookSubscription)
        .where(
            WebhookSubscription.id == subscription_id,
            WebhookSubscription.failing_since.is_(None),
        )
        .values(failing_since=now)
    )
    return await session.scalar(
        select(WebhookSubscription.failing_since).where(
            WebhookSubscription.id == subscription_id,
            WebhookSubscription.enabled.is_(True),
        )
    )


async def disable_subscription(
    session: AsyncSession, subscription_id: uuid.UUID, reason: str, now: datetime
) -> int | None:
    """Disable if still enabled; the new version, or None when it already was disabled."""
    result = await session.execute(
        update(WebhookSubscription)
        .where(
            WebhookSubscription.id == subscription_id,
            WebhookSubscription.enabled.is_(True),
        )
        .values(
            enabled=False,
            disabled_reason=reason,
            updated_at=now,
            version=WebhookSubscription.version + 1,
        )
        .returning(WebhookSubscription.version)
    )
    return result.scalar_one_or_none()


async def prune_deliveries(session: AsyncSession, before: datetime) -> int:
    """Completed deliveries (and, by cascade, their attempts) older than the log's span."""
    result = await session.execute(
        delete(Delivery).where(
            and_(Delivery.status != DeliveryStatus.pending, Delivery.created_at < before)
        )
    )
    return int(result.rowcount or 0)


async def prune_dispatched_events(session: AsyncSession, before: datetime) -> int:
    """Dispatched events older than the log's span with no delivery left."""
    still_referenced = select(Delivery.id).where(Delivery.event_id == OutboxEvent.id).exists()
    result = await session.execute(
        delete(OutboxEvent).where(
            OutboxEvent.dispatched_at.is_not(None),
            OutboxEvent.dispatched_at < before,
            ~still_referenced,
        )
    )
    return int(result.rowcount or 0)


# --- the scheduled jobs' ledger -------------------------------------------------------------


async def add_job_row(session: AsyncSession, name: str, every_seconds: int) -> bool:
    """The job's row, made by whichever process meets the job first. True if made now."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    inserted = await session.execute(
        dialect.insert(JobRun)
        .values(name=name, every_seconds=every_seconds, runs=0, failures=0)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(JobRun.name)
    )
    return inserted.scalar_one_or_none() is not None


async def claim_job(
    session: AsyncSession,
    name: str,
    *,
    now: datetime,
    every: timedelta,
    lease: timedelta,
    token: uuid.UUID,
    runner: str,
) -> bool:
    """Take the job if nobody holds a live lease on it and its interval has passed since the
    last start, whoever ran it (or an admin asked for a run). One conditional UPDATE: of
    several processes asking at once, exactly one gets the row."""
    free = or_(JobRun.lease_until.is_(None), JobRun.lease_until < now)
    conditions = [JobRun.name == name, free]
    conditions.append(
        or_(
            JobRun.last_started_at.is_(None),
            JobRun.last_started_at <= now - every,
            JobRun.run_requested_at.is_not(None),
        )
    )
    result = await session.execute(
        update(JobRun)
        .where(*conditions)
        .values(
            # The interval as this process's code has it, for the admins' list.
            every_seconds=int(every.total_seconds()),
            last_started_at=now,
            lease_until=now + lease,
            claim_token=token,
            ran_by=runner,
            runs=JobRun.runs + 1,
            run_requested_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)


async def finish_job(
    session: AsyncSession, name: str, token: uuid.UUID, now: datetime, error: str | None
) -> None:
    """Record the outcome and free the lease, unless the lease lapsed and another took it."""
    values: dict[str, object] = {
        "last_finished_at": now,
        "last_outcome": "failed" if error else "succeeded",
        "last_error": error,
        "lease_until": None,
        "claim_token": None,
    }
    if error:
        values["failures"] = JobRun.failures + 1
    await session.execute(
        update(JobRun)
        .where(JobRun.name == name, JobRun.claim_token == token)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def job_rows(session: AsyncSession) -> dict[str, JobRun]:
    rows = await session.execute(select(JobRun))
    return {row.name: row for row in rows.scalars()}


async def request_job_run(session: AsyncSession, name: str, now: datetime) -> JobRun | None:
    job = await session.get(JobRun, name)
    if job is not None and job.run_requested_at is None:
        job.run_requested_at = now
        await session.flush()
    return job
