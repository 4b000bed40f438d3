import uuid
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
    # One table counts failed logins and e-mail requests: kept for the longer of the windows.
    window = timedelta(
        seconds=max(settings.login_window_seconds, settings.link_request_window_seconds)
    )
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


async def test_delivery_log_keeps_thirty_days(db, settings):
    from app.models.outbox import OutboxEvent
    from app.models.webhook import Delivery, DeliveryChannel
    from app.worker.schedule import prune_delivery_log

    now = datetime.now(UTC)
    old, recent, pending = (timedelta(days=31), timedelta(days=1), timedelta(days=40))
    rows = {}
    for name, age, status in (
        ("old", old, "succeeded"),
        ("recent", recent, "failed"),
        ("pending", pending, "pending"),
    ):
        event = OutboxEvent(
            type="member.updated",
            type_version=1,
            subject_type="member",
            subject_id=uuid.uuid4(),
            occurred_at=now - age,
            dispatched_at=now - age,
        )
        db.add(event)
        await db.flush()
        db.add(
            Delivery(
                event_id=event.id,
                channel=DeliveryChannel.webhook,
                status=status,
                created_at=now - age,
            )
        )
        rows[name] = event.id
    orphan = OutboxEvent(
        type="member.updated",
        type_version=1,
        subject_type="member",
        subject_id=uuid.uuid4(),
        occurred_at=now - old,
        dispatched_at=now - old,
    )
    db.add(orphan)
    await db.flush()

    await prune_delivery_log(db, settings, now)
    db.expire_all()
    kept = set((await db.execute(select(OutboxEvent.id))).scalars())
    assert kept == {rows["recent"], rows["pending"]}
    statuses = sorted((await db.execute(select(Delivery.status))).scalars())
    assert statuses == ["failed", "pending"]
