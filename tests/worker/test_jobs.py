"""Scheduled jobs run once per interval across processes, and admins see and nudge them."""

import asyncio
import os
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from app.models.audit import AuditEntry
from app.models.job import JobRun
from app.worker.schedule import JOBS, JOBS_BY_NAME, ScheduledJob, run_due_jobs, run_job
from tests.conftest import DATABASE_URL, IS_POSTGRES, truncate_all
from tests.problems import assert_problem
from tests.worker.jobs_process import JOB_NAME, PROBE_TABLE


async def _noop(session, settings, now):
    return None


async def test_a_job_runs_once_per_interval_whoever_asks(app, db, settings):
    job = ScheduledJob("ledger_probe", timedelta(minutes=5), _noop)
    maker = app.state.sessionmaker
    now = datetime.now(UTC)
    assert await run_job(maker, settings, job, now) is True
    # Another process (or this one, at its next tick) within the interval: not its turn.
    assert await run_job(maker, settings, job, now + timedelta(minutes=4)) is False
    assert await run_job(maker, settings, job, now + timedelta(minutes=5)) is True
    row = await db.get(JobRun, "ledger_probe", populate_existing=True)
    assert row is not None
    assert (row.runs, row.failures, row.last_outcome, row.every_seconds) == (2, 0, "succeeded", 300)
    assert row.ran_by and row.ran_by.endswith(f":{os.getpid()}")
    assert row.lease_until is None and row.claim_token is None  # ended: the lease is free


async def test_a_live_lease_keeps_everyone_else_out(app, db, settings):
    job = ScheduledJob("leased_probe", timedelta(seconds=1), _noop)
    now = datetime.now(UTC)
    db.add(
        JobRun(
            name="leased_probe",
            every_seconds=1,
            last_started_at=now - timedelta(hours=1),
            lease_until=now + timedelta(minutes=1),
            ran_by="elsewhere:1",
            runs=1,
            run_requested_at=now,
        )
    )
    await db.flush()
    assert await run_job(app.state.sessionmaker, settings, job, now) is False
    # A process that died mid-run: its lease lapses and the next one takes over.
    assert await run_job(app.state.sessionmaker, settings, job, now + timedelta(minutes=2))


async def test_a_failed_run_is_recorded_with_its_error(app, db, settings):
    async def fails(session, settings, now):
        raise RuntimeError("the portal said no")

    job = ScheduledJob("failing_probe", timedelta(minutes=1), fails)
    assert await run_job(app.state.sessionmaker, settings, job, datetime.now(UTC))
    row = await db.get(JobRun, "failing_probe", populate_existing=True)
    assert row is not None
    assert (row.last_outcome, row.failures, row.runs) == ("failed", 1, 1)
    assert row.last_error == "RuntimeError: the portal said no"
    assert row.last_finished_at is not None and row.lease_until is None


async def test_admins_list_the_jobs_and_run_one_out_of_turn(client, factory, db, app, settings):
    admin = await factory.member("admin")
    listed = await client.get("/api/v1/admin/jobs", headers=admin.headers)
    assert listed.status_code == 200
    items = {item["name"]: item for item in listed.json()["items"]}
    assert list(items) == [job.name for job in JOBS]
    assert items["prune_login_failures"]["every_seconds"] == 3600

    job = JOBS_BY_NAME["prune_login_failures"]
    now = datetime.now(UTC)
    assert await run_job(app.state.sessionmaker, settings, job, now)
    assert not await run_job(app.state.sessionmaker, settings, job, now)  # not due for an hour

    asked = await client.post("/api/v1/admin/jobs/prune_login_failures/run", headers=admin.headers)
    assert asked.status_code == 202, asked.text
    assert asked.json()["run_requested_at"] is not None
    assert asked.json()["next_due_at"] is None  # at the next tick
    entry = (
        await db.execute(select(AuditEntry).where(AuditEntry.action == "job.run_requested"))
    ).scalar_one()
    assert (entry.actor_id, entry.details) == (admin.id, {"job": "prune_login_failures"})

    assert "prune_login_failures" in await run_due_jobs(app.state.sessionmaker, settings, [job])
    after = await client.get("/api/v1/admin/jobs", headers=admin.headers)
    shown = next(i for i in after.json()["items"] if i["name"] == "prune_login_failures")
    assert (shown["runs"], shown["last_outcome"], shown["running"]) == (2, "succeeded", False)
    assert shown["run_requested_at"] is None and shown["last_error"] is None
    assert shown["ran_by"].endswith(f":{os.getpid()}")
    assert shown["next_due_at"] is not None


async def test_running_an_unknown_job_is_a_problem(client, factory):
    admin = await factory.member("admin")
    missing = await client.post("/api/v1/admin/jobs/no_such_job/run", headers=admin.headers)
    assert missing.status_code == 404
    assert_problem(missing)
    assert "GET /api/v1/admin/jobs" in missing.json()["detail"]
    malformed = await client.post("/api/v1/admin/jobs/Drop%20Table/run", headers=admin.headers)
    assert malformed.status_code == 422
    assert_problem(malformed)
    member = await factory.member("member")
    refused = await client.post(
        "/api/v1/admin/jobs/prune_login_failures/run", headers=member.headers
    )
    assert refused.status_code == 403
    assert_problem(refused)


@pytest.mark.skipif(not IS_POSTGRES, reason="several processes share a PostgreSQL database")
async def test_three_processes_run_a_job_once_per_interval(engine):
    """Three processes tick every 20 ms through a job due every 0.5 s, for 3 s: it runs about
    six times in all (not three times that), and never twice within one interval."""
    every, seconds = 0.5, 3.0
    async with engine.begin() as connection:
        await connection.execute(text(f"DROP TABLE IF EXISTS {PROBE_TABLE}"))
        await connection.execute(
            text(f"CREATE TABLE {PROBE_TABLE} (runner text NOT NULL, started_at text NOT NULL)")
        )
    try:
        start = time.time() + 5  # every process has imported the app by then
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.worker.jobs_process",
                DATABASE_URL,
                str(start),
                str(seconds),
                str(every),
            )
            for _ in range(3)
        ]
        codes = [await asyncio.wait_for(p.wait(), 60) for p in processes]
        assert codes == [0, 0, 0]
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text(f"SELECT runner, started_at FROM {PROBE_TABLE} ORDER BY started_at")
                )
            ).all()
            ledger = (
                await connection.execute(select(JobRun.runs).where(JobRun.name == JOB_NAME))
            ).scalar_one()
    finally:
        async with engine.begin() as connection:
            await connection.execute(text(f"DROP TABLE IF EXISTS {PROBE_TABLE}"))
        await truncate_all(engine)
    starts = [datetime.fromisoformat(at) for _, at in rows]
    assert 2 <= len(starts) <= seconds / every + 1, rows
    assert ledger == len(starts)
    gaps = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
    assert all(gap >= timedelta(seconds=every) for gap in gaps), gaps
