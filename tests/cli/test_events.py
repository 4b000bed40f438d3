"""`dl events create / list / show / status / registrations export / check-in`."""

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.cli.events import REGISTRATION_FIELDS
from app.models.event import Event
from app.models.idempotency import IdempotencyRecord
from tests.conftest import committed_member


def _times(days: int = 30) -> list[str]:
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
    return [
        "--starts-at",
        starts.isoformat().replace("+00:00", "Z"),
        "--ends-at",
        (starts + timedelta(hours=4)).isoformat().replace("+00:00", "Z"),
    ]


async def _create(dl, title: str, seats: int = 10, days: int = 30) -> dict:
    return await dl.json(
        "events",
        "create",
        "--title",
        title,
        "--seats",
        str(seats),
        "--venue-name",
        "Loft",
        *_times(days),
    )


async def _open(dl, title: str, seats: int = 10) -> dict:
    event = await _create(dl, title, seats)
    for status in ("published", "registration_open"):
        moved = await dl("events", "status", event["id"], status)
        assert moved.exit_code == 0, moved.stderr
    return event


async def _registered(app, engine, live, event_id: str, count: int) -> list[dict]:
    """``count`` members registered and confirmed through the API, with their headers."""
    registrations = []
    for _ in range(count):
        _, headers = await committed_member(app, engine, "member")
        created = await live.post(
            f"/api/v1/events/{event_id}/registrations", headers=headers, json={"source": "ads"}
        )
        assert created.status_code == 201, created.text
        confirmed = await live.post(
            f"/api/v1/registrations/{created.json()['id']}/confirm", headers=headers
        )
        assert confirmed.status_code == 200, confirmed.text
        registrations.append({**confirmed.json(), "headers": headers})
    return registrations


async def test_create_makes_the_event_once_with_an_idempotency_key(dl, engine, admin, live):
    human = await dl(
        "events",
        "create",
        "--title",
        "Board #7",
        "--seats",
        "64",
        "--visibility",
        "public",
        "--confirm-by",
        "2099-01-01T00:00:00Z",
        *_times(),
    )
    assert human.exit_code == 0, human.stderr
    assert "Created event" in human.stdout and "Board #7" in human.stdout
    event_id = human.stdout.split("Created event ", 1)[1].split(".", 1)[0]

    _, headers = admin
    read = await live.get(f"/api/v1/events/{event_id}", headers=headers)
    assert read.status_code == 200
    body = read.json()
    assert (body["title"], body["seats"], body["status"], body["visibility"]) == (
        "Board #7",
        64,
        "draft",
        "public",
    )
    async with async_sessionmaker(engine)() as session:
        assert await session.scalar(select(func.count()).select_from(Event)) == 1
        # The create went with an Idempotency-Key, so a retry would replay, not duplicate.
        keys = (await session.execute(select(IdempotencyRecord))).scalars().all()
    assert [k.response_status for k in keys if k.caller.endswith("/api/v1/events")] == [201]


async def test_list_filters_and_limits(dl):
    first = await _create(dl, "Upcoming A", days=10)
    await _create(dl, "Upcoming B", days=20)
    opened = await _open(dl, "Open C")

    everything = await dl.json("events", "list")
    assert {e["title"] for e in everything} == {"Upcoming A", "Upcoming B", "Open C"}
    upcoming = await dl.json("events", "list", "--when", "upcoming", "--limit", "1")
    assert [e["id"] for e in upcoming] == [first["id"]]  # soonest first
    open_only = await dl.json("events", "list", "--status", "registration_open")
    assert [e["id"] for e in open_only] == [opened["id"]]

    table = await dl("events", "list")
    assert "3 events" in table.stdout and "registration_open" in table.stdout
    wrong = await dl("events", "list", "--status", "someday")
    assert wrong.exit_code == 2

    illegal = await dl("events", "status", opened["id"], "draft")
    assert illegal.exit_code == 1 and "Illegal status change" in illegal.stderr


async def test_registrations_export_has_a_row_per_registration(dl, app, engine, live, tmp_path):
    event = await _open(dl, "Export night", seats=3)
    registrations = await _registered(app, engine, live, event["id"], 5)  # 3 seats, 2 wait

    target = tmp_path / "registrations.csv"
    result = await dl("events", "registrations", "export", event["id"], "-o", str(target))
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert list(rows[0]) == REGISTRATION_FIELDS
    assert [r["id"] for r in rows] == [r["id"] for r in registrations]  # order of arrival
    assert [r["status"] for r in rows] == ["confirmed"] * 3 + ["waitlisted"] * 2
    assert [r["waitlist_position"] for r in rows[3:]] == ["1", "2"]
    assert {r["source"] for r in rows} == {"ads"}

    waiting = await dl(
        "events",
        "registrations",
        "export",
        event["id"],
        "--format",
        "json",
        "--status",
        "waitlisted",
    )
    assert [r["id"] for r in json.loads(waiting.stdout)] == [r["id"] for r in registrations[3:]]

    shown = await dl.json("events", "show", event["id"])
    assert shown["counts"]["confirmed"] == 3 and shown["counts"]["waitlisted"] == 2


async def test_check_in_by_registration_and_by_qr(dl, app, engine, live):
    event = await _open(dl, "Door night", seats=5)
    other = await _open(dl, "Another night", seats=5)
    first, second = await _registered(app, engine, live, event["id"], 2)

    checked = await dl(
        "events", "check-in", event["id"], "--registration", first["id"], "--nonce", "scan-0001"
    )
    assert checked.exit_code == 0, checked.stderr
    assert "Checked in" in checked.stdout
    # The same scan again (same nonce) is answered as the first; a new scan is refused.
    retried = await dl.json(
        "events", "check-in", event["id"], "-r", first["id"], "--nonce", "scan-0001"
    )
    assert retried["status"] == "checked_in"
    again = await dl("events", "check-in", event["id"], "-r", first["id"])
    assert again.exit_code == 1 and "Already checked in" in again.stderr

    qr = (
        await live.get(f"/api/v1/registrations/{second['id']}/qr", headers=second["headers"])
    ).json()["qr_token"]
    by_qr = await dl.json("events", "check-in", event["id"], "--qr", qr)
    assert by_qr["id"] == second["id"] and by_qr["status"] == "checked_in"

    wrong_door = await dl("events", "check-in", other["id"], "-r", first["id"])
    assert wrong_door.exit_code == 1 and "Wrong event" in wrong_door.stderr
    neither = await dl("events", "check-in", event["id"])
    assert neither.exit_code == 2
    counts = await dl.json("events", "show", event["id"])
    assert counts["counts"]["checked_in"] == 2

    missing = await dl("events", "show", str(uuid.uuid4()))
    assert missing.exit_code == 1 and "(404)" in missing.stderr
