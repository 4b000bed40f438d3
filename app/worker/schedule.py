"""Scheduled jobs: housekeeping and the domains' time-driven rules.

Each job is an idempotent function of (session, settings, now) owned by its domain; this list
says how often it runs. Every API process (or worker) runs the list, so two replicas running a
job at once must do no harm: jobs delete what expired or use conditional updates.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth import service as auth_service
from app.cases import service as cases_service
from app.core import idempotency
from app.core.config import Settings
from app.core.logging import log_context
from app.core.metrics import JOB_RUNS
from app.integrations.bitrix24 import inbound as bitrix24_inbound
from app.integrations.bitrix24 import runs as bitrix24_runs
from app.integrations.timepad import service as timepad_service
from app.registrations import service as registrations_service
from app.reviews import assigning
from app.surveys import service as surveys_service
from app.worker import repository as worker_repository

logger = logging.getLogger("app.worker.schedule")
TICK_SECONDS = 15

JobFunction = Callable[[AsyncSession, Settings, datetime], Awaitable[object]]


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    every: timedelta
    run: JobFunction


async def prune_idempotency_records(
    session: AsyncSession, settings: Settings, now: datetime
) -> None:
    await idempotency.prune(session, now)


async def prune_login_failures(session: AsyncSession, settings: Settings, now: datetime) -> None:
    # The same table counts the requests that send e-mail, over a window of its own.
    window = max(settings.login_window_seconds, settings.link_request_window_seconds)
    await auth_service.prune_login_failures(session, before=now - timedelta(seconds=window))


async def prune_account_links(session: AsyncSession, settings: Settings, now: datetime) -> None:
    # Kept a day past expiry, so a late click still finds "expired", not "unknown" in the log.
    await auth_service.prune_account_links(session, before=now - timedelta(days=1))


async def prune_delivery_log(session: AsyncSession, settings: Settings, now: datetime) -> None:
    before = now - timedelta(days=settings.delivery_log_days)
    await worker_repository.prune_deliveries(session, before)
    await worker_repository.prune_dispatched_events(session, before)


JOBS: list[ScheduledJob] = [
    ScheduledJob("retry_timepad_inbox", timedelta(minutes=1), timepad_service.retry_inbox),
    ScheduledJob("reconcile_timepad", timedelta(hours=1), timepad_service.reconcile_open_events),
    ScheduledJob("apply_bitrix24_events", timedelta(minutes=1), bitrix24_inbound.retry_inbox),
    ScheduledJob(
        "expire_registration_offers", timedelta(minutes=1), registrations_service.expire_offers
    ),
    ScheduledJob(
        "release_unconfirmed_registrations",
        timedelta(minutes=5),
        registrations_service.release_unconfirmed,
    ),
    # Twice a minute: a reminder leaves within a minute of being due.
    ScheduledJob(
        "send_event_reminders", timedelta(seconds=30), registrations_service.send_reminders
    ),
    ScheduledJob("request_case_outcomes", timedelta(hours=1), cases_service.request_outcomes),
    ScheduledJob(
        "open_close_and_remind_surveys", timedelta(minutes=1), surveys_service.run_schedule
    ),
    ScheduledJob("seal_survey_answers", timedelta(minutes=1), surveys_service.seal_answers),
    ScheduledJob("prune_idempotency_records", timedelta(hours=1), prune_idempotency_records),
    ScheduledJob("prune_login_failures", timedelta(hours=1), prune_login_failures),
    ScheduledJob("prune_account_links", timedelta(hours=6), prune_account_links),
    ScheduledJob("prune_delivery_log", timedelta(hours=1), prune_delivery_log),
    ScheduledJob(
        "fill_review_assignments", timedelta(minutes=10), assigning.fill_waiting_applications
    ),
    ScheduledJob(
        "bitrix24_sync_runs", timedelta(seconds=TICK_SECONDS), bitrix24_runs.run_requested_syncs
    ),
]


async def run_job(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    job: ScheduledJob,
    now: datetime,
) -> None:
    """One job in its own transaction: a failing job neither blocks nor rolls back the others."""
    with log_context(job=job.name):
        try:
            async with sessionmaker() as session:
                await job.run(session, settings, now)
                await session.commit()
        except Exception:  # a failed round (database down) must not end the loop
            logger.warning("job %s failed; retrying next round", job.name, exc_info=True)
            JOB_RUNS.labels(job.name, "failed").inc()
        else:
            JOB_RUNS.labels(job.name, "succeeded").inc()


async def run_periodically(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    jobs: list[ScheduledJob] = JOBS,
) -> None:
    last_run: dict[str, datetime] = {}
    while True:
        now = datetime.now(UTC)
        for job in jobs:
            previous = last_run.get(job.name)
            if previous is None or now - previous >= job.every:
                last_run[job.name] = now
                await run_job(sessionmaker, settings, job, now)
        await asyncio.sleep(TICK_SECONDS)
