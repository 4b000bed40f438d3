"""Liveness and readiness probes, outside the versioned API."""

import asyncio

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import text

from app.core.errors import ServiceUnavailable, problem_responses

router = APIRouter(tags=["health"])
READINESS_TIMEOUT_SECONDS = 2.0


class Health(BaseModel):
    status: str


@router.get("/healthz", response_model=Health, operation_id="health_live")
async def healthz() -> Health:
    """The process is alive."""
    return Health(status="ok")


@router.get(
    "/readyz", response_model=Health, responses=problem_responses(503), operation_id="health_ready"
)
async def readyz(request: Request) -> Health:
    """The database answers; 503 when it does not."""
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
            # A read session: on SQLite it does not queue behind writers for the write lock.
            async with request.app.state.read_sessionmaker() as session:
                await session.execute(text("SELECT 1"))
    except Exception as error:  # any failure to reach the database means "not ready"
        raise ServiceUnavailable("The database is unreachable.") from error
    return Health(status="ok")
