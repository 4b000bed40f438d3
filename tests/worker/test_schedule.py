from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.models.idempotency import IdempotencyRecord
from app.models.token import LoginFailure
from app.worker.schedule import (
    ScheduledJob,
    prune_idempotency_records,
    prune_login_failures,
    run_job,
)


async def test_prunes_only_what_expired(db, settings):
    now = datetime.now(UTC)
    window = timedelta(seconds=settings.login_window_seconds)
    db.add_all(
        [
            LoginFailure(key="account:old", occurred_at=now - window - timedelta(seconds=1)),
            LoginFailure(key="account:new", occurred_at=now - timedelta(seconds=5)),
            IdempotencyRecord(
                caller="c", key="old", request_hash="h", expires_at=now - timedelta(seconds=1)
            ),
            IdempotencyRecord(
                caller="c", key="new", request_hash="h", expires_at=now + timedelta(hours=1)
            ),
        ]
    )
    await db.flush()
    await prune_idempotency_records(db, settings, now)
    await prune_login_failures(db, settings, now)
    db.expire_all()
    assert (await db.execute(select(LoginFailure.key))).scalars().all() == ["account:new"]
    assert (await db.execute(select(IdempotencyRecord.key))).scalars().all() == ["new"]


async def test_a_failing_job_is_logged_and_leaves_nothing_half_done(app, db, settings, caplog):
    async def half_then_fail(session, settings, now):
        session.add(LoginFailure(key="account:half", occurred_at=now))
        await session.flush()
        raise RuntimeError("boom")

    job = ScheduledJob("half_then_fail", timedelta(minutes=1), half_then_fail)
    await run_job(app.state.sessionmaker, settings, job, datetime.now(UTC))

    assert "job half_then_fail failed" in caplog.text
    keys = (await db.execute(select(LoginFailure.key))).scalars().all()
    assert "account:half" not in keys
