"""The scheduled jobs as admins see them: what each did last, and a run out of turn."""

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import audit
from app.core.context import RequestContext
from app.core.errors import NotFound
from app.models.job import JobRun
from app.worker import repository
from app.worker.schedule import JOBS, JOBS_BY_NAME, ScheduledJob
from app.worker.schemas import JobList, JobRead


def _view(job: ScheduledJob, row: JobRun | None, now: datetime) -> JobRead:
    every = job.every
    started = row.last_started_at if row else None
    running = bool(row and row.lease_until and row.lease_until > now)
    requested = row.run_requested_at if row else None
    return JobRead(
        name=job.name,
        every_seconds=int(every.total_seconds()),
        running=running,
        last_started_at=started,
        last_finished_at=row.last_finished_at if row else None,
        last_outcome=row.last_outcome if row else None,
        last_error=row.last_error if row else None,
        ran_by=row.ran_by if row else None,
        runs=row.runs if row else 0,
        failures=row.failures if row else 0,
        run_requested_at=requested,
        next_due_at=None if started is None or requested else max(started + every, now),
    )


async def list_jobs(session: AsyncSession, now: datetime) -> JobList:
    rows = await repository.job_rows(session)
    return JobList(items=[_view(job, rows.get(job.name), now) for job in JOBS])


async def request_run(
    session: AsyncSession,
    name: str,
    *,
    actor_id: uuid.UUID,
    context: RequestContext,
    now: datetime,
) -> JobRead:
    """Ask for a run out of turn: the next tick of any process (within ``TICK_SECONDS``) runs
    it, whatever its interval. Asking twice before it runs asks once."""
    job = JOBS_BY_NAME.get(name)
    if job is None:
        raise NotFound("No scheduled job has this name; GET /api/v1/admin/jobs lists them.")
    await repository.add_job_row(session, job.name, int(job.every.total_seconds()))
    row = await repository.request_job_run(session, name, now)
    audit.record(
        session,
        actor_id=actor_id,
        action="job.run_requested",
        target_type="job",
        target_id=None,
        context=context,
        details={"job": name},
    )
    return _view(job, row, now)
