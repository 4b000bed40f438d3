"""Shared steps: an event in a given status, registered members."""

from datetime import UTC, datetime, timedelta
from typing import Any

EVENT = {
    "title": "Board of directors #1",
    "venue_name": "Loft",
    "venue_address": "Moscow",
    "time_zone": "Europe/Moscow",
    "seats": 64,
    "table_size": 8,
}


def soon(days: int = 30) -> dict[str, str]:
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
    return {"starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=4)).isoformat()}


async def create_event(client, admin, **fields: Any) -> dict:
    response = await client.post(
        "/api/v1/events", headers=admin.headers, json={**EVENT, **soon(), **fields}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def move(client, admin, event_id: str, *statuses: str) -> dict:
    body: dict = {}
    for status in statuses:
        response = await client.post(
            f"/api/v1/events/{event_id}/status", headers=admin.headers, json={"status": status}
        )
        assert response.status_code == 200, response.text
        body = response.json()
    return body


async def open_event(client, admin, **fields: Any) -> dict:
    event = await create_event(client, admin, **fields)
    await move(client, admin, event["id"], "published", "registration_open")
    return event


async def register(client, actor, event_id: str, **body: Any) -> dict:
    response = await client.post(
        f"/api/v1/events/{event_id}/registrations", headers=actor.headers, json=body
    )
    assert response.status_code == 201, response.text
    return response.json()


async def confirm(client, actor, registration_id: str) -> dict:
    response = await client.post(
        f"/api/v1/registrations/{registration_id}/confirm", headers=actor.headers
    )
    assert response.status_code == 200, response.text
    return response.json()
