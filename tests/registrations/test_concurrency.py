"""Seats under contention, on PostgreSQL with separate connections and committed data."""

import asyncio
import uuid
from collections import Counter

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.models.event import Event
from app.models.registration import Registration
from tests.conftest import IS_POSTGRES, committed_member
from tests.events.helpers import EVENT, soon

pytestmark = pytest.mark.skipif(not IS_POSTGRES, reason="concurrency is proven on PostgreSQL")
PEOPLE, SEATS, REPETITIONS = 200, 64, 20


async def open_event(live, admin_headers, seats: int) -> str:
    created = await live.post(
        "/api/v1/events", headers=admin_headers, json={**EVENT, **soon(), "seats": seats}
    )
    event_id = created.json()["id"]
    for status in ("published", "registration_open"):
        moved = await live.post(
            f"/api/v1/events/{event_id}/status", headers=admin_headers, json={"status": status}
        )
        assert moved.status_code == 200, moved.text
    return event_id


async def register_and_confirm(live, headers, event_id: str) -> tuple[int, int, str]:
    created = await live.post(
        f"/api/v1/events/{event_id}/registrations", headers=headers, json={"source": "ads"}
    )
    if created.status_code != 201:
        return created.status_code, 0, ""
    confirmed = await live.post(
        f"/api/v1/registrations/{created.json()['id']}/confirm", headers=headers
    )
    return created.status_code, confirmed.status_code, confirmed.json().get("status", "")


async def test_200_people_for_64_seats_never_oversell(live, app, engine):
    _, admin = await committed_member(app, engine, "admin")
    people = [(await committed_member(app, engine))[1] for _ in range(PEOPLE)]
    maker = async_sessionmaker(engine, expire_on_commit=False)
    for repetition in range(REPETITIONS):
        event_id = await open_event(live, admin, SEATS)
        results = await asyncio.gather(*(register_and_confirm(live, h, event_id) for h in people))
        assert {(c, k) for c, k, _ in results} == {(201, 200)}, repetition  # no 5xx, no refusal
        assert Counter(s for _, _, s in results) == {
            "confirmed": SEATS,
            "waitlisted": PEOPLE - SEATS,
        }
        async with maker() as session:
            event = await session.get(Event, uuid.UUID(event_id))
            assert event.seats_held == SEATS
            rows = (
                (
                    await session.execute(
                        select(Registration).where(Registration.event_id == event.id)
                    )
                )
                .scalars()
                .all()
            )
        confirmed = [r for r in rows if r.status == "confirmed"]
        waiting = sorted(r.waitlist_position for r in rows if r.status == "waitlisted")
        assert len(confirmed) == SEATS
        # First come, first served: the line is numbered 1..136 without gaps or twins.
        assert waiting == list(range(1, PEOPLE - SEATS + 1)), repetition


async def test_one_person_ten_times_at_once_is_one_registration(live, app, engine):
    _, admin = await committed_member(app, engine, "admin")
    _, member = await committed_member(app, engine)
    event_id = await open_event(live, admin, 5)
    responses = await asyncio.gather(
        *(
            live.post(f"/api/v1/events/{event_id}/registrations", headers=member, json={})
            for _ in range(10)
        )
    )
    assert sorted(r.status_code for r in responses) == [201] + [409] * 9
    registration_id = next(r.json()["id"] for r in responses if r.status_code == 201)
    confirms = await asyncio.gather(
        *(
            live.post(f"/api/v1/registrations/{registration_id}/confirm", headers=member)
            for _ in range(10)
        )
    )
    assert {r.status_code for r in confirms} == {200}
    maker = async_sessionmaker(engine, expire_on_commit=False)
    async with maker() as session:
        count = await session.scalar(select(func.count()).select_from(Registration))
        event = await session.get(Event, uuid.UUID(event_id))
        registration = await session.get(Registration, uuid.UUID(registration_id))
    assert (count, event.seats_held) == (1, 1)
    assert (registration.status, registration.version) == ("confirmed", 2)  # one transition


async def test_cancellations_racing_confirmations_keep_the_line(live, app, engine):
    """Seats freed while others confirm: never more than the seats, the line stays FIFO."""
    _, admin = await committed_member(app, engine, "admin")
    holders = [(await committed_member(app, engine))[1] for _ in range(10)]
    newcomers = [(await committed_member(app, engine))[1] for _ in range(50)]
    event_id = await open_event(live, admin, 10)
    held = [await register_and_confirm(live, h, event_id) for h in holders]
    assert all(s == "confirmed" for _, _, s in held)
    mine = (await live.get("/api/v1/registrations", headers=holders[0])).json()["items"]
    assert mine
    ids = [
        (await live.get("/api/v1/registrations", headers=h)).json()["items"][0]["id"]
        for h in holders[:5]
    ]
    cancels = [
        live.post(f"/api/v1/registrations/{i}/cancel", headers=h)
        for i, h in zip(ids, holders[:5], strict=True)
    ]
    joins = [register_and_confirm(live, h, event_id) for h in newcomers]
    results = await asyncio.gather(*cancels, *joins)
    assert all(getattr(r, "status_code", 200) == 200 for r in results[:5])
    maker = async_sessionmaker(engine, expire_on_commit=False)
    async with maker() as session:
        event = await session.get(Event, uuid.UUID(event_id))
        rows = (
            (await session.execute(select(Registration).where(Registration.event_id == event.id)))
            .scalars()
            .all()
        )
    holding = [r for r in rows if r.status in ("confirmed", "offered")]
    assert len(holding) == event.seats_held <= 10
    offered = sorted(r.waitlist_position for r in rows if r.status == "offered")
    waiting = sorted(r.waitlist_position for r in rows if r.status == "waitlisted")
    # Offers went to the head of the line: every offered place comes before every waiting one.
    assert not offered or not waiting or max(offered) < min(waiting)
