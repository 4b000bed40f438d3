from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.maintenance import prune_expired
from app.models.idempotency import IdempotencyRecord
from app.models.token import LoginFailure


async def test_prunes_only_what_expired(db, settings):
    now = datetime.now(UTC)
    window = timedelta(seconds=settings.login_window_seconds)
    db.add_all([
        LoginFailure(key="account:old", occurred_at=now - window - timedelta(seconds=1)),
        LoginFailure(key="account:new", occurred_at=now - timedelta(seconds=5)),
        IdempotencyRecord(caller="c", key="old", request_hash="h",
                          expires_at=now - timedelta(seconds=1)),
        IdempotencyRecord(caller="c", key="new", request_hash="h",
                          expires_at=now + timedelta(hours=1)),
    ])
    await db.flush()
    await prune_expired(db, settings, now)
    db.expire_all()
    assert (await db.execute(select(LoginFailure.key))).scalars().all() == ["account:new"]
    assert (await db.execute(select(IdempotencyRecord.key))).scalars().all() == ["new"]
