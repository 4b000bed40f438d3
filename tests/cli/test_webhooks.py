"""`dl webhooks list / deliveries / redeliver`."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.models.webhook import Delivery
from tests.conftest import committed_member


async def _subscription(live, headers, description: str) -> dict:
    created = await live.post(
        "/api/v1/webhooks",
        headers=headers,
        json={
            "url": "https://crm.example.com/hook",
            "event_types": ["member.updated"],
            "description": description,
        },
    )
    assert created.status_code == 201, created.text
    return created.json()


async def _fail(engine, delivery_id: str) -> None:
    """The delivery gave up, as the worker leaves it after its last attempt."""
    async with async_sessionmaker(engine)() as session:
        delivery = await session.get(Delivery, uuid.UUID(delivery_id))
        delivery.status = "failed"
        delivery.attempts = 9
        delivery.last_status_code = 500
        delivery.completed_at = datetime.now(UTC)
        await session.commit()


async def _status(engine, delivery_id: str) -> str:
    async with async_sessionmaker(engine)() as session:
        return (
            await session.execute(
                select(Delivery.status).where(Delivery.id == uuid.UUID(delivery_id))
            )
        ).scalar_one()


async def test_list_deliveries_and_redeliver(dl, admin, engine, live):
    _, headers = admin
    crm = await _subscription(live, headers, "CRM")
    await _subscription(live, headers, "Analytics")
    pings = []
    for _ in range(3):
        ping = await live.post(f"/api/v1/webhooks/{crm['id']}/ping", headers=headers)
        assert ping.status_code == 202, ping.text
        pings.append(ping.json()["id"])
    await _fail(engine, pings[0])
    await _fail(engine, pings[1])

    listed = await dl.json("webhooks", "list")
    assert {s["description"] for s in listed} == {"CRM", "Analytics"}
    assert all("secret" not in s for s in listed)
    table = await dl("webhooks", "list")
    assert crm["id"] in table.stdout and "https://crm.example.com/hook" in table.stdout

    every = await dl.json("webhooks", "deliveries", crm["id"])
    assert sorted(d["id"] for d in every) == sorted(pings)
    failed = await dl.json("webhooks", "deliveries", crm["id"], "--status", "failed")
    assert sorted(d["id"] for d in failed) == sorted(pings[:2])
    human = await dl("webhooks", "deliveries", crm["id"], "--limit", "2")
    assert "2 deliveries" in human.stdout and "webhook.ping" in human.stdout

    one = await dl("webhooks", "redeliver", crm["id"], pings[0])
    assert one.exit_code == 0, one.stderr
    assert f"1 deliveries queued to be sent again: {pings[0]}" in one.stdout
    assert await _status(engine, pings[0]) == "pending"

    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    rest = await dl.json("webhooks", "redeliver", crm["id"], "--failed-since", since)
    assert rest == {"requeued": 1, "delivery_ids": [pings[1]]}
    assert await _status(engine, pings[1]) == "pending"

    both = await dl("webhooks", "redeliver", crm["id"], pings[0], "--failed-since", since)
    assert both.exit_code == 2
    unknown = await dl("webhooks", "redeliver", crm["id"], str(uuid.uuid4()))
    assert unknown.exit_code == 1 and "(404)" in unknown.stderr


async def test_a_member_token_gets_403_with_the_problem_printed(dl, app, engine):
    _, headers = await committed_member(app, engine, "member")
    result = await dl("webhooks", "list", token=headers["Authorization"].split()[1])
    assert result.exit_code == 1
    assert "Error (403)" in result.stderr and "roles" in result.stderr
