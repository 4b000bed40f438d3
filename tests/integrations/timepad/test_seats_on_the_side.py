"""Paid Timepad orders take their seats on the side (PostgreSQL), as members' confirmations
do: orders arriving together do not queue on the event's row, and an order that fails after
taking its seat gives it back."""

import asyncio
import uuid

import pytest
from sqlalchemy import func, select

from app.models.event import Event
from app.models.inbox import InboxMessage
from app.models.registration import Registration, SeatHold
from app.registrations import repository as registrations_repository
from tests.conftest import IS_POSTGRES, committed_member
from tests.events.helpers import EVENT, soon
from tests.integrations.timepad.fake import order
from tests.integrations.timepad.test_webhook import TIMEPAD_EVENT, send

pytestmark = pytest.mark.skipif(not IS_POSTGRES, reason="side statements run on PostgreSQL")


async def linked_event(live, app, engine, seats: int) -> str:
    _, admin = await committed_member(app, engine, "admin")
    created = await live.post(
        "/api/v1/events",
        headers=admin,
        json={**EVENT, **soon(), "seats": seats, "timepad_event_id": TIMEPAD_EVENT},
    )
    event_id = str(created.json()["id"])
    for status in ("published", "registration_open"):
        moved = await live.post(
            f"/api/v1/events/{event_id}/status", headers=admin, json={"status": status}
        )
        assert moved.status_code == 200, moved.text
    return event_id


async def settled(engine) -> None:
    """Webhooks are applied after the answer: wait until every stored one was tried."""
    for _ in range(100):
        async with engine.connect() as connection:
            pending = await connection.scalar(
                select(func.count())
                .select_from(InboxMessage)
                .where(InboxMessage.processed_at.is_(None), InboxMessage.attempts == 0)
            )
        if not pending:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the webhooks were not applied")


async def seats_of(engine, event_id: str) -> tuple[int, int, list[tuple[str, int | None]]]:
    async with engine.connect() as connection:
        held = await connection.scalar(
            select(Event.seats_held).where(Event.id == uuid.UUID(event_id))
        )
        holds = await connection.scalar(select(func.count()).select_from(SeatHold))
        rows = (
            await connection.execute(
                select(Registration.status, Registration.waitlist_position)
                .where(Registration.event_id == uuid.UUID(event_id))
                .order_by(Registration.status, Registration.waitlist_position)
            )
        ).all()
    return held, holds, [tuple(r) for r in rows]


async def test_paid_orders_arriving_together_fill_the_seats_and_the_line(live, app, engine):
    event_id = await linked_event(live, app, engine, 3)
    answers = await asyncio.gather(
        *(
            send(live, order(5000 + n, TIMEPAD_EVENT, f"buyer{n}@example.com", "paid"))
            for n in range(7)
        )
    )
    assert {a.status_code for a in answers} == {202}
    await settled(engine)
    held, holds, rows = await seats_of(engine, event_id)
    assert (held, holds) == (3, 0)
    assert rows == [("confirmed", None)] * 3 + [("waitlisted", n) for n in (1, 2, 3, 4)]


async def test_an_order_that_fails_after_taking_its_seat_gives_it_back(
    live, app, engine, monkeypatch
):
    event_id = await linked_event(live, app, engine, 1)

    async def broken(*args: object) -> bool:
        raise RuntimeError("the registration could not be written")

    # The statement that turns the seat taken on the side into the confirmed registration.
    monkeypatch.setattr(registrations_repository, "consume_seat_hold", broken)
    answer = await send(live, order(6001, TIMEPAD_EVENT, "unlucky@example.com", "paid"))
    assert answer.status_code == 202  # stored: Timepad is answered whatever happens next
    await settled(engine)
    async with engine.connect() as connection:
        message = (await connection.execute(select(InboxMessage))).one()
    assert message.processed_at is None and "could not be written" in message.last_error
    held, holds, rows = await seats_of(engine, event_id)
    assert (held, holds) == (0, 0)  # the seat went back at once, not after the hold expired
    assert rows == []  # nothing of the order is kept: the stored message waits for the retry
