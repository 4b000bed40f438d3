"""The outbox relay: fan events out into deliveries, then make due deliveries.

Two short transactions around the network, never one long one:
1. ``fan_out``: claim undispatched outbox rows (SKIP LOCKED), create one delivery per target
   of every channel, mark the rows dispatched. Atomic: a crash leaves the rows undispatched.
2. ``claim``: take a lease on due deliveries (SKIP LOCKED) and commit. The attempts run
   outside any transaction; ``record`` then writes each outcome if the lease is still ours.
A worker that dies keeps nothing: its leases run out and another worker makes the attempt
again, with the same message id. Delivery is at least once; receivers dedupe on the id.
"""

import asyncio
import logging
import random
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.delivery import Channel, Job, Outcome
from app.core.logging import log_context
from app.core.metrics import DELIVERY_ATTEMPTS
from app.core.outbox import emit
from app.models.webhook import DeliveryStatus
from app.webhooks.events import SUBSCRIPTION_DISABLED, SubscriptionDisabledData
from app.webhooks.retry import next_delay
from app.worker import repository

logger = logging.getLogger("app.worker.relay")


async def fan_out(session: AsyncSession, channels: Sequence[Channel], limit: int) -> int:
    events = await repository.claim_undispatched_events(session, limit)
    if not events:
        return 0
    now = datetime.now(UTC)
    rows = [
        {
            "id": uuid.uuid4(),
            "event_id": event.id,
            "channel": channel.name,
            "subscription_id": target.subscription_id,
            "recipient_id": target.recipient_id,
            "status": DeliveryStatus.pending,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for channel in channels
        for event, target in await channel.targets(session, events)
    ]
    await repository.add_deliveries(session, rows)
    await repository.mark_dispatched(session, [e.id for e in events], now)
    return len(events)


async def claim(
    session: AsyncSession,
    settings: Settings,
    token: uuid.UUID,
    limit: int,
    in_flight: Mapping[uuid.UUID, int] | None = None,
    per_subscription: int | None = None,
) -> list[Job]:
    now = datetime.now(UTC)
    lease = timedelta(seconds=settings.worker_lease_seconds)
    ids = await repository.claim_due_deliveries(
        session, now, lease, token, limit, in_flight, per_subscription
    )
    if not ids:
        return []
    return [
        Job(delivery=d, event=e, subscription=s)
        for d, e, s in await repository.load_jobs(session, ids)
    ]


async def record(
    session: AsyncSession,
    settings: Settings,
    job: Job,
    token: uuid.UUID,
    outcome: Outcome,
    rng: random.Random,
) -> None:
    now = datetime.now(UTC)
    delivery = job.delivery
    attempts = delivery.attempts + 1
    await repository.add_attempt(
        session,
        delivery_id=delivery.id,
        attempted_at=now,
        status_code=outcome.status_code,
        latency_ms=outcome.latency_ms,
        response_excerpt=outcome.response_excerpt,
        error=outcome.error,
        details=outcome.details,
    )
    values: dict[str, object] = {
        "attempts": attempts,
        "last_attempt_at": now,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
    }
    delay = (
        None
        if outcome.succeeded or not outcome.retry
        else next_delay(attempts, rng, outcome.retry_after)
    )
    if outcome.succeeded:
        values |= {"status": DeliveryStatus.succeeded, "completed_at": now}
    elif delay is None:
        values |= {"status": DeliveryStatus.failed, "completed_at": now}
    else:
        values["next_attempt_at"] = now + delay
    if not await repository.finish_attempt(session, delivery.id, token, values):
        # The lease ran out and another worker owns the delivery now; its result counts.
        logger.warning("lease on delivery %s lost before its result was recorded", delivery.id)
        return
    DELIVERY_ATTEMPTS.labels(
        delivery.channel,
        "succeeded" if outcome.succeeded else "failed" if delay is None else "retry",
    ).inc()
    if not outcome.succeeded:
        # Successes are counted (metrics), not logged: one line each would drown the failures.
        logger.warning(
            "delivery attempt %d failed: %s; %s",
            attempts,
            outcome.error,
            "giving up" if delay is None else f"retrying in {delay.total_seconds():.0f}s",
            extra={"attempt": attempts, "status_code": outcome.status_code},
        )
    if job.subscription is not None:
        await _track_subscription_health(session, settings, job, outcome, now)


async def _track_subscription_health(
    session: AsyncSession, settings: Settings, job: Job, outcome: Outcome, now: datetime
) -> None:
    """Keep the subscription's failure record. The common case (a success on a healthy
    subscription) writes nothing, so many workers never queue on the subscription's row."""
    assert job.subscription is not None
    subscription_id = job.subscription.id
    if outcome.succeeded:
        if job.subscription.failing_since is not None:
            await repository.clear_failing(session, subscription_id)
        return
    if outcome.error == "subscription disabled":
        return
    failing_since = await repository.mark_failing(session, subscription_id, now)
    reason = None
    if outcome.gone:
        reason = "gone"
    elif failing_since is not None and (
        now - failing_since >= timedelta(days=settings.webhook_disable_after_days)
    ):
        reason = "failing"
    if reason is None:
        return
    version = await repository.disable_subscription(session, subscription_id, reason, now)
    if version is None:  # another worker disabled it first; one event is enough
        return
    emit(
        session,
        SUBSCRIPTION_DISABLED,
        SubscriptionDisabledData(
            id=subscription_id,
            version=version,
            reason=reason,
            failing_since=failing_since,
        ),
    )


class Worker:
    """Runs the relay until told to stop. Any number may run, in any number of processes."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        channels: Sequence[Channel],
        rng: random.Random | None = None,
    ):
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.channels = {channel.name: channel for channel in channels}
        self.rng = rng or random.Random()
        self.token = uuid.uuid4()
        self.stopping = asyncio.Event()
        self._slots = asyncio.Semaphore(settings.worker_concurrency)
        # ``run``'s attempts in flight, with their subscription (None: not a webhook).
        self._in_flight: dict[asyncio.Task[None], uuid.UUID | None] = {}
        # A busy pipeline claims again once this many attempts ended, not after each one:
        # a claim per delivery would cost more round trips than the deliveries themselves.
        self._claim_every = max(1, settings.worker_concurrency // 4)
        self._ended_since_claim = 0
        self._wake = asyncio.Event()

    async def run_once(self) -> int:
        """One round: fan out what is new, make what is due. Returns the work done."""
        async with self.sessionmaker() as session:
            fanned = await fan_out(
                session, list(self.channels.values()), self.settings.worker_batch_size
            )
            await session.commit()
        async with self.sessionmaker() as session:
            jobs = await claim(session, self.settings, self.token, self.settings.worker_batch_size)
            await session.commit()
        if jobs:
            await asyncio.gather(*(self._attempt(job) for job in jobs))
        return fanned + len(jobs)

    async def _attempt(self, job: Job) -> None:
        with log_context(
            delivery_id=str(job.delivery.id),
            channel=job.delivery.channel,
            event_type=job.event.type,
        ):
            await self._attempt_in_context(job)

    async def _attempt_in_context(self, job: Job) -> None:
        async with self._slots:
            channel = self.channels.get(job.delivery.channel)
            if channel is None:
                outcome = Outcome(succeeded=False, error="no such channel here", retry=True)
            else:
                try:
                    outcome = await channel.deliver(job)
                except Exception as exc:  # a channel bug must not lose the delivery
                    logger.exception("channel %s failed on %s", channel.name, job.delivery.id)
                    outcome = Outcome(succeeded=False, error=f"{type(exc).__name__}")
            async with self.sessionmaker() as session:
                await record(session, self.settings, job, self.token, outcome, self.rng)
                await session.commit()

    async def run(self) -> None:
        """Until ``stop``: a pipeline, not rounds. Attempts run as tasks; whenever a slot is
        free, what is new is fanned out and what is due is claimed, without waiting for the
        attempts in flight. A receiver that hangs until the timeout therefore holds only its
        own slots (at most ``worker_concurrency_per_subscription``), never the deliveries to
        everyone else. On stop, the attempts in flight finish (each is bounded by its
        timeout) and whatever is still leased is released."""
        try:
            while not self.stopping.is_set():
                try:
                    started = await self._start_due()
                except Exception:  # the database being away must not end the worker
                    logger.warning("worker round failed; retrying", exc_info=True)
                    started = 0
                if not started:
                    await self._pause()
            if self._in_flight:
                await asyncio.gather(*self._in_flight, return_exceptions=True)
        finally:
            await self.release()

    async def _start_due(self) -> int:
        """Fan out, then claim as many due deliveries as there are free slots and start them.
        Returns the work done (events fanned out, attempts started)."""
        async with self.sessionmaker() as session:
            fanned = await fan_out(
                session, list(self.channels.values()), self.settings.worker_batch_size
            )
            await session.commit()
        free = self.settings.worker_concurrency - len(self._in_flight)
        if free <= 0:
            return fanned
        self._ended_since_claim = 0
        in_flight = Counter(s for s in self._in_flight.values() if s is not None)
        async with self.sessionmaker() as session:
            jobs = await claim(
                session,
                self.settings,
                self.token,
                min(free, self.settings.worker_batch_size),
                in_flight,
                self.settings.worker_concurrency_per_subscription,
            )
            await session.commit()
        for job in jobs:
            task = asyncio.create_task(self._attempt_logged(job))
            self._in_flight[task] = job.delivery.subscription_id
            task.add_done_callback(self._ended)
        return fanned + len(jobs)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)
        self._ended_since_claim += 1
        if self._ended_since_claim >= self._claim_every or not self._in_flight:
            self._wake.set()

    async def _attempt_logged(self, job: Job) -> None:
        try:
            await self._attempt(job)
        except Exception:  # recording failed (the database away): the lease runs out
            logger.warning(
                "attempt on %s not recorded; its lease will expire", job.delivery.id, exc_info=True
            )

    async def _pause(self) -> None:
        """Nothing to start: wait until stopped, enough attempts ended (see
        ``_claim_every``), or the idle interval passed (new events, retries come due)."""
        if self._wake.is_set():
            self._wake.clear()
            return
        waiters = [
            asyncio.ensure_future(self.stopping.wait()),
            asyncio.ensure_future(self._wake.wait()),
        ]
        try:
            await asyncio.wait(
                waiters,
                timeout=self.settings.worker_idle_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for waiter in waiters:
                waiter.cancel()
            self._wake.clear()

    async def release(self) -> None:
        try:
            async with self.sessionmaker() as session:
                released = await repository.release_leases(session, self.token)
                await session.commit()
            if released:
                logger.info("released %d leased deliveries", released)
        except Exception:
            logger.warning("could not release leases; they expire on their own", exc_info=True)

    def stop(self) -> None:
        self.stopping.set()
