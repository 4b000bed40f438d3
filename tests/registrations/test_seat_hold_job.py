"""The job that returns expired seat holds, on both databases (the holds themselves are taken
on PostgreSQL only: ``test_seat_holds.py``)."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from app.models.event import Event
from app.models.registration import Registration, SeatHold
from app.registrations import service
from tests.events.helpers import confirm, open_event, register


async def test_expired_holds_go_back_and_to_the_head_of_the_line(client, db, factory, settings):
    admin, dead, waiting, fresh = [await factory.member(*r) for r in (["admin"], [], [], [])]
    event = await open_event(client, admin, seats=2)
    event_id = uuid.UUID(event["id"])
    now = datetime.now(UTC)
    # Two seats held for confirmations that never came back: one expired, one not yet.
    for member, expires in (
        (dead, now - timedelta(seconds=1)),
        (fresh, now + timedelta(minutes=1)),
    ):
        registration = await register(client, member, event["id"])
        db.add(
            SeatHold(
                registration_id=uuid.UUID(registration["id"]), event_id=event_id, expires_at=expires
            )
        )
    (await db.get(Event, event_id)).seats_held = 2
    await db.flush()
    line = await register(client, waiting, event["id"])
    assert (await confirm(client, waiting, line["id"]))["status"] == "waitlisted"

    assert await service.release_seat_holds(db, settings, now) == 1
    db.expire_all()
    assert (await db.get(Event, event_id)).seats_held == 2  # one returned, then offered
    assert (await db.get(Registration, uuid.UUID(line["id"]))).status == "offered"
    assert await db.scalar(select(func.count()).select_from(SeatHold)) == 1  # the fresh one
    assert await service.release_seat_holds(db, settings, now) == 0
