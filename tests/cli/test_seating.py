"""`dl seating generate / show / swap / publish`."""

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.models.registration import Registration
from app.models.table import EventTable, TableSeat
from tests.cli.conftest import committed_people
from tests.events.helpers import EVENT, soon


async def _seated_event(live, engine, admin_headers, people: int = 8) -> tuple[str, list]:
    created = await live.post(
        "/api/v1/events", headers=admin_headers, json={**EVENT, **soon(), "table_size": 4}
    )
    event_id = created.json()["id"]
    assert (
        await live.post(
            f"/api/v1/events/{event_id}/status", headers=admin_headers, json={"status": "published"}
        )
    ).status_code == 200
    members = await committed_people(engine, people, "member", function="CTO", seniority=3)
    async with async_sessionmaker(engine)() as session:
        session.add_all(
            Registration(event_id=uuid.UUID(event_id), member_id=m.id, status="confirmed")
            for m in members
        )
        await session.commit()
    return event_id, members


async def test_generate_show_swap_publish(dl, engine, admin, live):
    _, headers = admin
    event_id, members = await _seated_event(live, engine, headers)
    human = await dl("seating", "generate", event_id, "--seed", "3")
    assert human.exit_code == 0, human.stderr
    assert "2 tables" in human.stdout and "Table 1" in human.stdout
    assert "Member 000" in human.stdout or "Member 007" in human.stdout
    plan = await dl.json("seating", "show", event_id)
    assert plan["status"] == "draft" and len(plan["tables"]) == 2
    first = plan["tables"][0]["attendees"][0]["member_id"]
    second = plan["tables"][1]["attendees"][0]["member_id"]
    swapped = await dl.json("seating", "swap", event_id, first, second)
    assert first in {a["member_id"] for a in swapped["tables"][1]["attendees"]}
    published = await dl("seating", "publish", event_id)
    assert published.exit_code == 0, published.stderr
    assert "Published: 2 tables, 8 people seated." in published.stdout
    async with async_sessionmaker(engine)() as session:
        assert await session.scalar(select(func.count()).select_from(EventTable)) == 2
        seat = (
            await session.execute(select(TableSeat).where(TableSeat.member_id == uuid.UUID(first)))
        ).scalar_one()
        table = await session.get(EventTable, seat.table_id)
        assert table.number == 2


async def test_generate_rounds_and_swap_in_one(dl, engine, admin, live):
    _, headers = admin
    event_id, _ = await _seated_event(live, engine, headers)
    human = await dl("seating", "generate", event_id, "--seed", "3", "--rounds", "3")
    assert human.exit_code == 0, human.stderr
    assert "2 tables in each of 3 rounds" in human.stdout and "Round 3" in human.stdout
    plan = await dl.json("seating", "show", event_id)
    assert [r["round"] for r in plan["rounds"]] == [1, 2, 3]
    assert plan["options"]["rounds"] == 3
    first = plan["rounds"][1]["tables"][0]["attendees"][0]["member_id"]
    second = plan["rounds"][1]["tables"][1]["attendees"][0]["member_id"]
    swapped = await dl.json("seating", "swap", event_id, first, second, "--round", "2")
    assert first in {a["member_id"] for a in swapped["rounds"][1]["tables"][1]["attendees"]}
    assert swapped["rounds"][0] == plan["rounds"][0]
    published = await dl("seating", "publish", event_id)
    assert "Published: 2 tables in each of 3 rounds, 8 people seated." in published.stdout
    async with async_sessionmaker(engine)() as session:
        assert await session.scalar(select(func.count()).select_from(EventTable)) == 6


async def test_a_broken_rule_is_an_api_error_with_its_detail(dl, engine, admin, live):
    _, headers = admin
    event_id, members = await _seated_event(live, engine, headers, people=2)
    colleagues = await committed_people(engine, 3, "member", company="Acme", prefix="Acme")
    async with async_sessionmaker(engine)() as session:
        session.add_all(
            Registration(event_id=uuid.UUID(event_id), member_id=m.id, status="confirmed")
            for m in colleagues
        )
        await session.commit()
    result = await dl("seating", "generate", event_id)
    assert result.exit_code == 1
    assert "No seating can keep every rule" in result.stderr and "'company'" in result.stderr
    usage = await dl("seating", "generate", event_id, "--time-limit", "1000")
    assert usage.exit_code == 2
