"""Shapes of /api/v1/admin/jobs."""

from typing import Literal

from pydantic import Field

from app.core.schemas import ReadSchema, UTCTimestamp


class JobRead(ReadSchema):
    name: str
    every_seconds: int = Field(description="How often it runs, across every process together.")
    running: bool = Field(description="A process holds the job's lease right now.")
    last_started_at: UTCTimestamp | None
    last_finished_at: UTCTimestamp | None
    last_outcome: Literal["succeeded", "failed"] | None
    last_error: str | None = Field(description="The error of the last run, when it failed.")
    ran_by: str | None = Field(description="host:pid of the process that ran it last.")
    runs: int
    failures: int
    run_requested_at: UTCTimestamp | None = Field(
        description="An admin asked for a run out of turn; the next tick of any process runs it."
    )
    next_due_at: UTCTimestamp | None = Field(
        description="When its interval next lets it run (null: at the next tick)."
    )


class JobList(ReadSchema):
    items: list[JobRead]
