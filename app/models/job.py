"""The scheduled jobs' ledger: one row per job, claimed by whichever process runs it next."""

import uuid
from datetime import datetime

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class JobRun(SQLModel, table=True):
    """A job's last run and its lease. Every process ticks through the job list; a process runs
    a job only after claiming this row with a conditional UPDATE (due, and no live lease), so a
    job runs once per interval however many API processes and workers there are."""

    __tablename__ = "job_run"

    name: str = Field(sa_type=String(64), primary_key=True)
    # The interval in the code of the process that last wrote it, shown to admins.
    every_seconds: int
    last_started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # "succeeded" or "failed"; None before the first run ends.
    last_outcome: str | None = Field(default=None, sa_type=String(16))
    last_error: str | None = Field(default=None, sa_type=String(500))
    # host:pid of the process that ran it last.
    ran_by: str | None = Field(default=None, sa_type=String(128))
    # While set and in the future, a process is running the job (or died doing so: the lease
    # then lapses and the next process takes over).
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    claim_token: uuid.UUID | None = None
    # An admin asked for a run out of turn: the next tick of any process runs it.
    run_requested_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    runs: int = 0
    failures: int = 0
