"""Seating under contention, on PostgreSQL with separate connections and committed data."""

import asyncio
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.models.outbox import OutboxEvent
from app.models.registration import Registration
from app.models.table import EventTable, SeatingPlan, TableSeat
from tests.conftest import IS_POSTGRES, committed_member
from tests.events.helpers import EVENT, soon

pytestmark = pytest.mark.skipif(not IS_POSTGRES, reason="concurrency is proven on PostgreSQL")


async def seated(live, app, engine, people: int) -> tuple[str, dict, list]:
    _, admin = await committed_member(app, engine, "admin")
    created = await live.post(
        "/api/v1/events", headers=admin, json={**EVENT, **soon(), "table_size": 4}
    )
    event_id = created.json()["id"]
    assert (
        await live.post(
            f"/api/v1/events/{event_id}/status", headers=admin, json={"status": "published"}
        )
    ).status_code == 200
    members = [await committed_member(app, engine) for _ in range(people)]
    maker = async_sessionmaker(engine, expire_on_commit=False)
    async with maker() as session:
        session.add_all(
            Registration(event_id=uuid.UUID(event_id), member_id=m.id, status="confirmed")
            for m, _ in members
        )
        await session.commit()
    return event_id, admin, members


async def test_concurrent_publishing_makes_one_set_of_tables(live, app, engine):
    event_id, admin, _ = await seated(live, app, engine, 12)
    drafted = await live.post(f"/api/v1/events/{event_id}/seating", headers=admin, json={"seed": 1})
    assert drafted.status_code == 201
    results = await asyncio.gather(
        *(live.post(f"/api/v1/events/{event_id}/seating/publish", headers=admin) for _ in range(8))
    )
    assert [r.status_code for r in results] == [200] * 8
    maker = async_sessionmaker(engine, expire_on_commit=False)
    async with maker() as session:
        assert await session.scalar(select(func.count()).select_from(EventTable)) == 3
        assert await session.scalar(select(func.count()).select_from(TableSeat)) == 12
        assert (
            await session.scalar(
                select(func.count())
                .select_from(OutboxEvent)
                .where(OutboxEvent.type == "seating.published")
            )
            == 1
        )


async def test_concurrent_swaps_never_lose_or_duplicate_a_person(live, app, engine):
    event_id, admin, members = await seated(live, app, engine, 12)
    plan = (
        await live.post(f"/api/v1/events/{event_id}/seating", headers=admin, json={"seed": 1})
    ).json()
    tables = [[a["member_id"] for a in t["attendees"]] for t in plan["tables"]]
    swaps = [(tables[0][i], tables[1][i]) for i in range(4)] + [
        (tables[1][i], tables[2][i]) for i in range(4)
    ]
    results = await asyncio.gather(
        *(
            live.post(
                f"/api/v1/events/{event_id}/seating/swaps",
                headers=admin,
                json={"member_id": a, "other_member_id": b},
            )
            for a, b in swaps
        )
    )
    assert {r.status_code for r in results} <= {200, 409, 422}
    assert any(r.status_code == 200 for r in results)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    async with maker() as session:
        stored = (await session.execute(select(SeatingPlan))).scalars().one()
    seated_now = [m for key in stored.tables for m in stored.tables[key]]
    assert sorted(seated_now) == sorted(str(m.id) for m, _ in members)
    assert stored.version == 1 + sum(r.status_code == 200 for r in results)
