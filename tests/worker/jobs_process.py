"""One process of the jobs-run-once test: from a common start time, ticks through a single job
for a while. The job writes a row per run, with the process and the time it was claimed at.

    python -m tests.worker.jobs_process DATABASE_URL START_EPOCH SECONDS EVERY_SECONDS
"""

import asyncio
import os
import sys
import time
from contextlib import suppress
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker
from app.worker.schedule import ScheduledJob, run_periodically

PROBE_TABLE = "jobs_once_probe"
JOB_NAME = "jobs_once_probe"


async def record_run(session: AsyncSession, settings: Settings, now: datetime) -> None:
    await session.execute(
        text(f"INSERT INTO {PROBE_TABLE} (runner, started_at) VALUES (:runner, :at)"),
        {"runner": str(os.getpid()), "at": now.isoformat()},
    )


async def main(url: str, start: float, seconds: float, every: float) -> None:
    settings = Settings(environment="test", database_url=url, jwt_secret="x" * 40)
    engine = create_engine(settings)
    job = ScheduledJob(JOB_NAME, timedelta(seconds=every), record_run)
    await asyncio.sleep(max(0.0, start - time.time()))
    with suppress(TimeoutError):
        await asyncio.wait_for(
            run_periodically(create_sessionmaker(engine), settings, [job], tick_seconds=0.02),
            seconds,
        )
    await engine.dispose()


if __name__ == "__main__":
    url, start, seconds, every = sys.argv[1], *map(float, sys.argv[2:5])
    asyncio.run(main(url, start, seconds, every))
