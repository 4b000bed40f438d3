"""Event day at the door: more seats offered to the waiting list, admitting from the list,
walk-ins checked in at once; the seats never fewer than the people holding them."""

import uuid

from sqlalchemy import select

from app.models.audit import AuditEntry
from app.models.event import Event
from app.models.registration import Registration
from tests.conftest import outbox_events
from tests.events.helpers import confirm, open_event, register


async def full_event(client, factory, seats: int = 2, waiting: int = 2):
    """An open event whose seats are taken, with ``waiting`` people on the waiting list."""
    admin = await factory.member("admin")
    event = await open_event(client, admin, seats=seats)
    people = [await factory.member("member") for _ in range(seats + waiting)]
    registrations = []
    for person in people:
        registration = await register(client, person, event["id"])
        registrations.append(await confirm(client, person, registration["id"]))
    assert [r["status"] for r in registrations] == ["confirmed"] * seats + ["waitlisted"] * waiting
    return admin, event, people, registrations


async def event_row(db, event_id) -> Event:
    db.expire_all()
    return await db.get(Event, uuid.UUID(event_id))


async def audits(db, action: str) -> list[AuditEntry]:
    db.expire_all()
    rows = await db.execute(select(AuditEntry).where(AuditEntry.action == action))
    return list(rows.scalars())


async def test_raising_the_seats_offers_them_to_the_head_of_the_line(client, factory, db):
    admin, event, _, registrations = await full_event(client, factory, seats=2, waiting=3)
    current = await client.get(f"/api/v1/events/{event['id']}", headers=admin.headers)
    raised = await client.patch(
        f"/api/v1/events/{event['id']}",
        headers={**admin.headers, "If-Match": current.headers["etag"]},
        json={"seats": 4},
    )
    assert raised.status_code == 200, raised.text
    assert raised.json()["seats_available"] == 0
    db.expire_all()
    statuses = {str(r.id): r.status for r in (await db.execute(select(Registration))).scalars()}
    waiting = [r["id"] for r in registrations[2:]]
    assert [statuses[i] for i in waiting] == ["offered", "offered", "waitlisted"]
    assert len(await outbox_events(db, "registration.offered")) == 2
    row = await event_row(db, event["id"])
    assert (row.seats, row.seats_held) == (4, 4)


async def test_an_admin_admits_from_the_waiting_list_into_a_full_room(client, factory, db):
    admin, event, people, registrations = await full_event(client, factory, seats=2, waiting=1)
    waiting = registrations[2]
    admitted = await client.post(
        f"/api/v1/registrations/{waiting['id']}/admit", headers=admin.headers
    )
    assert admitted.status_code == 200, admitted.text
    assert admitted.json()["status"] == "confirmed"
    row = await event_row(db, event["id"])
    assert (row.seats, row.seats_held) == (3, 3)  # one more seat, for this admission only
    [raised] = await audits(db, "event.seats_raised")
    assert raised.target_id == uuid.UUID(event["id"]) and raised.actor_id == admin.id
    assert len(await audits(db, "registration.admitted")) == 1
    again = await client.post(f"/api/v1/registrations/{waiting['id']}/admit", headers=admin.headers)
    assert again.status_code == 409
    refused = await client.post(
        f"/api/v1/registrations/{waiting['id']}/admit", headers=people[0].headers
    )
    assert refused.status_code == 403


async def test_walk_ins_are_checked_in_and_seated(client, factory, db):
    admin, event, people, registrations = await full_event(client, factory, seats=2, waiting=1)
    guest = await client.post(
        f"/api/v1/events/{event['id']}/walk-ins",
        headers=admin.headers,
        json={"guest_name": "Olga Smirnova", "guest_email": "olga@example.com"},
    )
    assert guest.status_code == 201, guest.text
    assert guest.json()["status"] == "checked_in"
    assert guest.json()["attendee_name"] == "Olga Smirnova"
    # A member already on the waiting list walks in: the same registration, checked in.
    member = await client.post(
        f"/api/v1/events/{event['id']}/walk-ins",
        headers=admin.headers,
        json={"member_id": str(people[2].id)},
    )
    assert member.status_code == 201 and member.json()["id"] == registrations[2]["id"]
    # A confirmed member who walks in keeps their seat: none is added for them.
    seated = await client.post(
        f"/api/v1/events/{event['id']}/walk-ins",
        headers=admin.headers,
        json={"member_id": str(people[0].id)},
    )
    assert seated.status_code == 201 and seated.json()["status"] == "checked_in"
    row = await event_row(db, event["id"])
    assert (row.seats, row.seats_held) == (4, 4)
    assert len(await audits(db, "event.seats_raised")) == 2
    twice = await client.post(
        f"/api/v1/events/{event['id']}/walk-ins",
        headers=admin.headers,
        json={"member_id": str(people[0].id)},
    )
    assert twice.status_code == 409
    for body in ({}, {"member_id": str(people[1].id), "guest_name": "Both"}):
        invalid = await client.post(
            f"/api/v1/events/{event['id']}/walk-ins", headers=admin.headers, json=body
        )
        assert invalid.status_code == 422
    unknown = await client.post(
        f"/api/v1/events/{event['id']}/walk-ins",
        headers=admin.headers,
        json={"member_id": str(uuid.uuid4())},
    )
    assert unknown.status_code == 404
