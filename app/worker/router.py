"""/api/v1/admin/jobs: the scheduled jobs, what each did last, and a run out of turn (admins)."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path

from app.auth.permissions import AdminPrincipal
from app.core.context import ContextDep
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.worker import jobs
from app.worker.schemas import JobList, JobRead

router = APIRouter(prefix="/admin/jobs", tags=["admin"])

JobName = Annotated[str, Path(pattern=r"^[a-z0-9_]{1,64}$", description="The job's name.")]


@router.get(
    "",
    response_model=JobList,
    responses=problem_responses(401, 403),
    operation_id="admin_jobs_list",
)
async def list_jobs(admin: AdminPrincipal, session: SessionDep) -> JobList:
    """Every scheduled job: its interval, its last start and end, outcome and error, the
    process that ran it, and whether one runs it now. A job runs once per interval across all
    API processes and workers. Admins only."""
    return await jobs.list_jobs(session, datetime.now(UTC))


@router.post(
    "/{name}/run",
    response_model=JobRead,
    status_code=202,
    responses=problem_responses(401, 403, 404, 422),
    operation_id="admin_jobs_run",
)
async def run_job(
    name: JobName, admin: AdminPrincipal, session: SessionDep, context: ContextDep
) -> JobRead:
    """Run a job out of turn: the next tick of any process (within 15 seconds) runs it,
    whatever its interval; `GET /api/v1/admin/jobs` then shows the outcome. No request waits
    for a job. Admins only."""
    return await jobs.request_run(
        session, name, actor_id=admin.id, context=context, now=datetime.now(UTC)
    )
