"""Events: creation, validation, lifecycle, who sees what, counts."""

from sqlalchemy import select

from app.models.audit import AuditEntry
from app.models.event import Event
from tests.conftest import outbox_events
from tests.events.helpers import EVENT, create_event, move, open_event, soon
from tests.problems import assert_problem


async def test_admin_creates_a_draft_members_do_not_see(client, factory, db):
    admin = await factory.member("admin")
    member = await factory.member("member")
    event = await create_event(client, admin, visibility="public")
    assert (event["status"], event["seats_available"], event["version"]) == ("draft", 64, 1)
    assert (
        await client.get(f"/api/v1/events/{event['id']}", headers=member.headers)
    ).status_code == 404
    assert (await client.get(f"/api/v1/public/events/{event['id']}")).status_code == 404
    listed = (await client.get("/api/v1/events", headers=member.headers)).json()
    assert listed["items"] == []
    row = await db.get(Event, __import__("uuid").UUID(event["id"]))
    assert row.created_by == admin.id
    assert (await db.execute(select(AuditEntry.action))).scalars().all() == ["event.created"]


async def test_bad_input_is_refused(client, factory, db):
    admin = await factory.member("admin")
    times = soon()
    for body in (
        {**EVENT, **times, "seats": 0},
        {**EVENT, **times, "time_zone": "Mars/Olympus"},
        {**EVENT, "starts_at": times["ends_at"], "ends_at": times["starts_at"]},
        {**EVENT, "starts_at": "2027-01-01T10:00:00", "ends_at": "2027-01-01T12:00:00"},
        {**EVENT, **times, "table_size": 1},
        {**EVENT, **times, "title": ""},
        {**EVENT, **times, "visibility": "secret"},
    ):
        response = await client.post("/api/v1/events", headers=admin.headers, json=body)
        assert response.status_code == 422, body
        assert_problem(response)
    assert (await db.execute(select(Event))).scalars().all() == []


async def test_lifecycle_legal_and_illegal(client, factory, db):
    admin = await factory.member("admin")
    event = await create_event(client, admin)
    url = f"/api/v1/events/{event['id']}/status"
    for target in ("registration_open", "completed", "registration_closed"):
        response = await client.post(url, headers=admin.headers, json={"status": target})
        assert response.status_code == 409, target
        assert_problem(response)
    moved = await move(
        client,
        admin,
        event["id"],
        "published",
        "registration_open",
        "registration_closed",
        "registration_open",
        "registration_closed",
        "completed",
    )
    assert moved["status"] == "completed"
    again = await client.post(url, headers=admin.headers, json={"status": "cancelled"})
    assert again.status_code == 409
    types = [e.type for e in await outbox_events(db) if e.type.startswith("event.")]
    assert types == [
        "event.published",
        "event.registration_opened",
        "event.registration_closed",
        "event.registration_opened",
        "event.registration_closed",
        "event.completed",
    ]


async def test_public_sees_public_events_without_attendees(client, factory):
    admin = await factory.member("admin")
    public = await open_event(client, admin, visibility="public")
    await open_event(client, admin, visibility="members")
    listed = (await client.get("/api/v1/public/events")).json()["items"]
    assert [e["id"] for e in listed] == [public["id"]]
    assert "seats" not in listed[0] and "speaker_ids" not in listed[0]
    applicant = await factory.member("applicant")
    seen = (await client.get("/api/v1/events", headers=applicant.headers)).json()["items"]
    assert [e["id"] for e in seen] == [public["id"]]


async def test_upcoming_and_past(client, factory, db):
    admin = await factory.member("admin")
    member = await factory.member("member")
    later = await open_event(client, admin, **soon(60))
    sooner = await open_event(client, admin, **soon(10))
    past = await create_event(client, admin)
    from datetime import UTC, datetime, timedelta

    row = await db.get(Event, __import__("uuid").UUID(past["id"]))
    row.starts_at = datetime.now(UTC) - timedelta(days=3)
    row.ends_at = row.starts_at + timedelta(hours=4)
    row.status = "completed"
    await db.flush()
    upcoming = (
        await client.get("/api/v1/events", params={"when": "upcoming"}, headers=member.headers)
    ).json()["items"]
    assert [e["id"] for e in upcoming] == [sooner["id"], later["id"]]
    gone = (
        await client.get("/api/v1/events", params={"when": "past"}, headers=member.headers)
    ).json()["items"]
    assert [e["id"] for e in gone] == [past["id"]]
    first = (
        await client.get(
            "/api/v1/events", params={"limit": 1, "when": "upcoming"}, headers=member.headers
        )
    ).json()
    second = (
        await client.get(
            "/api/v1/events",
            params={"limit": 1, "when": "upcoming", "cursor": first["next_cursor"]},
            headers=member.headers,
        )
    ).json()
    assert [e["id"] for e in first["items"] + second["items"]] == [sooner["id"], later["id"]]
    forged = await client.get(
        "/api/v1/events", params={"cursor": first["next_cursor"]}, headers=member.headers
    )
    assert forged.status_code == 422  # a cursor of another listing


async def test_update_with_if_match_and_seat_floor(client, factory, db):
    from tests.events.helpers import confirm, register

    admin = await factory.member("admin")
    first, second = await factory.member("member"), await factory.member("member")
    event = await open_event(client, admin, seats=3)
    for actor in (first, second):
        await confirm(client, actor, (await register(client, actor, event["id"]))["id"])
    url = f"/api/v1/events/{event['id']}"
    etag = (await client.get(url, headers=admin.headers)).headers["ETag"]
    below = await client.patch(url, headers={**admin.headers, "If-Match": etag}, json={"seats": 1})
    assert below.status_code == 409
    assert_problem(below)
    fits = await client.patch(
        url,
        headers={**admin.headers, "If-Match": etag},
        json={"seats": 2, "title": "Board #1, hall B"},
    )
    assert fits.status_code == 200 and fits.json()["seats_available"] == 0
    stale = await client.patch(
        url, headers={**admin.headers, "If-Match": etag}, json={"title": "Renamed"}
    )
    assert stale.status_code == 412
    row = await db.get(Event, __import__("uuid").UUID(event["id"]))
    await db.refresh(row)
    assert (row.seats, row.title, row.seats_held) == (2, "Board #1, hall B", 2)
    [updated] = await outbox_events(db, "event.updated")
    assert updated.data["id"] == event["id"]
    counts = (await client.get(f"{url}/counts", headers=first.headers)).json()
    assert counts == {
        "seats": 2,
        "available": 0,
        "confirmed": 2,
        "pending": 0,
        "offered": 0,
        "waitlisted": 0,
        "checked_in": 0,
        "no_show": 0,
        "cancelled": 0,
    }


async def test_fields_that_cannot_be_empty_refuse_null(client, factory, db):
    """null for a field that can be left out but not removed is a validation error (it was a
    500: the NOT NULL column refused it at flush)."""
    admin = await factory.member("admin")
    event = await create_event(client, admin)
    url = f"/api/v1/events/{event['id']}"
    for field in ("description", "venue_name", "venue_address", "title", "starts_at"):
        response = await client.patch(url, headers=admin.headers, json={field: None})
        assert response.status_code == 422, (field, response.text)
        assert response.json()["errors"][0]["loc"] == ["body", field]
    kept = await client.patch(url, headers=admin.headers, json={"description": ""})
    assert kept.status_code == 200 and kept.json()["description"] == ""


async def test_moving_one_end_past_the_stored_other_end_is_a_conflict(client, factory, db):
    admin = await factory.member("admin")
    event = await create_event(client, admin)
    url = f"/api/v1/events/{event['id']}"
    both = await client.patch(
        url,
        headers=admin.headers,
        json={"starts_at": event["ends_at"], "ends_at": event["starts_at"]},
    )
    assert both.status_code == 422  # the body alone is inconsistent
    late_start = await client.patch(
        url, headers=admin.headers, json={"starts_at": event["ends_at"]}
    )
    assert late_start.status_code == 409
    assert_problem(late_start)
    assert "ends_at must be after starts_at" in late_start.json()["detail"]
    row = await db.get(Event, __import__("uuid").UUID(event["id"]))
    await db.refresh(row)
    assert row.version == 1 and await outbox_events(db, "event.updated") == []
