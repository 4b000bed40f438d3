"""Timepad delivers at least once and in no promised order (checklist I3, I4): whatever the
order of arrival, the registration ends where Timepad's order ended, and the same webhook
arriving five times at once is applied once."""

import asyncio
import itertools
import uuid

import pytest
from sqlalchemy import func, select

from app.models.event import Event
from app.models.inbox import InboxMessage
from app.models.outbox import OutboxEvent
from app.models.registration import Registration
from tests.conftest import IS_POSTGRES, committed_member
from tests.events.helpers import EVENT, open_event, soon
from tests.integrations.timepad.fake import order
from tests.integrations.timepad.test_webhook import TIMEPAD_EVENT, registrations, send

# An order's life at Timepad, in the order it happened: booked, paid, then refunded.
LIFE = ["booked", "paid", "returned"]
FINAL = {"booked": "pending_confirmation", "paid": "confirmed", "returned": "cancelled"}


@pytest.fixture
async def event(client, factory):
    admin = await factory.member("admin")
    return await open_event(client, admin, seats=5, timepad_event_id=TIMEPAD_EVENT)


@pytest.mark.parametrize("arrival", list(itertools.permutations(LIFE)))
async def test_every_order_of_arrival_ends_where_timepad_ended(client, db, event, arrival):
    """All 6 orders of arrival: the final state is Timepad's final state, with one
    registration, and the seat it held is given back."""
    for status in arrival:
        response = await send(client, order(707, TIMEPAD_EVENT, "late@example.com", status))
        assert response.status_code == 202
    [registration] = await registrations(db)
    assert registration.status == FINAL[LIFE[-1]]
    assert registration.timepad_status == LIFE[-1]
    assert (await db.get(Event, uuid.UUID(event["id"]))).seats_held == 0


@pytest.mark.parametrize("arrival", list(itertools.permutations(LIFE[:2])))
async def test_booked_and_paid_in_either_order_end_confirmed(client, db, event, arrival):
    for status in arrival:
        await send(client, order(708, TIMEPAD_EVENT, "either@example.com", status))
    [registration] = await registrations(db)
    assert registration.status == "confirmed"


@pytest.mark.skipif(not IS_POSTGRES, reason="concurrency is proven on PostgreSQL")
async def test_the_same_webhook_five_times_at_once_is_applied_once(live, app, engine):
    _admin, headers = await committed_member(app, engine, "admin")
    created = await live.post(
        "/api/v1/events",
        headers=headers,
        json={**EVENT, **soon(), "timepad_event_id": TIMEPAD_EVENT},
    )
    event_id = created.json()["id"]
    for status in ("published", "registration_open"):
        await live.post(
            f"/api/v1/events/{event_id}/status", headers=headers, json={"status": status}
        )
    payload = order(909, TIMEPAD_EVENT, "burst@example.com", "paid")
    responses = await asyncio.gather(*(send(live, payload) for _ in range(5)))
    assert all(r.status_code == 202 for r in responses), [r.text for r in responses]
    for _ in range(50):  # processing runs after the answer: wait for it to settle
        async with engine.connect() as connection:
            pending = await connection.scalar(
                select(func.count())
                .select_from(InboxMessage)
                .where(InboxMessage.processed_at.is_(None))
            )
        if not pending:
            break
        await asyncio.sleep(0.1)
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(Registration.status).where(Registration.event_id == uuid.UUID(event_id))
            )
        ).all()
        messages = await connection.scalar(select(func.count()).select_from(InboxMessage))
        confirmed_events = await connection.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.type == "registration.confirmed")
        )
    assert [r.status for r in rows] == ["confirmed"]
    assert messages == 1 and confirmed_events == 1
