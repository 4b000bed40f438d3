"""Scheduled jobs: housekeeping and the domains' time-driven rules.

Each job is an idempotent function of (session, settings, now) owned by its domain; this list
says how often it runs. Every API process (or worker) ticks through the list, but a job runs
only in the process that claims its ``job_run`` row (a conditional UPDATE: due, and no live
lease), so it runs once per interval across every replica. Jobs stay idempotent anyway: a
process that dies mid-run leaves its lease to lapse, and the next one runs the job again.
"""

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth import service as auth_service
from app.cases import service as cases_service
from app.core import idempotency
from app.core.config import Settings
from app.core.db import autocommit_twin
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
# How long a claim holds when its process dies mid-run; a job that ends frees it at once.
DEFAULT_LEASE = timedelta(minutes=10)

JobFunction = Callable[[AsyncSession, Settings, datetime], Awaitable[object]]


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    every: timedelta
    run: JobFunction
    # Jobs that wait on the network between statements run in an autocommit session (see
    # ``create_autocommit_sessionmaker``): nothing stays locked while the partner answers.
    autocommit: bool = False
    lease: timedelta = DEFAULT_LEASE


def runner_id() -> str:
    """This process, as admins see it in the job list (read at each claim: a fork changes it)."""
    return f"{socket.gethostname()}:{os.getpid()}"[:128]


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
        "release_expired_seat_holds", timedelta(minutes=1), registrations_service.release_seat_holds
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
        "bitrix24_sync_runs",
        timedelta(seconds=TICK_SECONDS),
        bitrix24_runs.run_requested_syncs,
        autocommit=True,
        lease=bitrix24_runs.RUN_LEASE,
    ),
]
JOBS_BY_NAME = {job.name: job for job in JOBS}


async def run_job(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    job: ScheduledJob,
    now: datetime,
) -> bool:
    """Claim the job and, if this process got it, run it in its own transaction: a failing job
    neither blocks nor rolls back the others. True when it ran here."""
    token = uuid.uuid4()
    with log_context(job=job.name):
        try:
            async with sessionmaker() as session:
                claim = partial(
                    worker_repository.claim_job,
                    session,
                    job.name,
                    now=now,
                    every=job.every,
                    lease=job.lease,
                    token=token,
                    runner=runner_id(),
                )
                claimed = await claim()
                # A job no process met before has no row yet: make it, and ask again.
                if not claimed and await worker_repository.add_job_row(
                    session, job.name, int(job.every.total_seconds())
                ):
                    claimed = await claim()
                await session.commit()
        except Exception:  # the database is down: the next tick tries again
            logger.warning("could not claim job %s", job.name, exc_info=True)
            return False
        if not claimed:
            return False
        error: str | None = None
        maker = autocommit_twin(sessionmaker) if job.autocommit else sessionmaker
        try:
            async with maker() as session:
                await job.run(session, settings, now)
                await session.commit()
        except Exception as exc:  # a failed round (database down) must not end the loop
            logger.warning("job %s failed; retrying next round", job.name, exc_info=True)
            JOB_RUNS.labels(job.name, "failed").inc()
            # The type and message only: statements are logged without their values, and so
            # are these (hide_parameters), so no personal data reaches the job list.
            error = f"{type(exc).__name__}: {exc}"[:500]
        else:
            JOB_RUNS.labels(job.name, "succeeded").inc()
        try:
            async with sessionmaker() as session:
                await worker_repository.finish_job(
                    session, job.name, token, datetime.now(UTC), error
                )
                await session.commit()
        except Exception:  # the lease lapses by itself
            logger.warning("could not record the end of job %s", job.name, exc_info=True)
        return True


async def run_due_jobs(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    jobs: list[ScheduledJob] = JOBS,
) -> list[str]:
    """One tick: every job whose turn it is, claimed and run here. The names of those that ran."""
    ran = []
    for job in jobs:
        if await run_job(sessionmaker, settings, job, datetime.now(UTC)):
            ran.append(job.name)
    return ran


async def run_periodically(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    jobs: list[ScheduledJob] = JOBS,
    tick_seconds: float = TICK_SECONDS,
) -> None:
    while True:
        await run_due_jobs(sessionmaker, settings, jobs)
        await asyncio.sleep(tick_seconds)
