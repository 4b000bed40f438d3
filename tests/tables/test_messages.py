"""Organisers' messages to an event's people: previewed, queued through the outbox, logged,
e-mailed to the audience only, honouring opt-outs; facilitators write to their tables."""

import uuid

from sqlalchemy import select

from app.models.table import EventMessage
from app.models.webhook import Delivery
from tests.conftest import outbox_events
from tests.events.helpers import confirm, register
from tests.notifications.test_email import worker_with
from tests.problems import assert_problem
from tests.smtp import smtp_server, text_of
from tests.tables.helpers import seated_event

MESSAGE = {"subject": "Entrance from the courtyard", "body": "The main door is closed."}


async def publish_seating(client, admin, event):
    created = await client.post(
        f"/api/v1/events/{event['id']}/seating", headers=admin.headers, json={"seed": 1}
    )
    assert created.status_code == 201, created.text
    published = await client.post(
        f"/api/v1/events/{event['id']}/seating/publish", headers=admin.headers
    )
    assert published.status_code == 200, published.text
    return published.json()


async def test_an_admin_writes_to_the_confirmed_but_not_to_who_opted_out(client, factory, db, app):
    admin = await factory.member("admin")
    event, actors = await seated_event(client, db, factory, admin, 8, title="Board 17")
    waiting = await factory.member("member", email="waiting@example.com")
    line = await register(client, waiting, event["id"])
    await confirm(client, waiting, line["id"])  # seats are plenty: confirmed as well
    muted = actors[0]
    await client.put("/api/v1/me/notifications", headers=muted.headers, json={"messages": False})

    preview = await client.post(
        f"/api/v1/events/{event['id']}/messages/preview", headers=admin.headers, json=MESSAGE
    )
    assert preview.status_code == 200 and preview.json() == {"recipients": 8}
    assert await outbox_events(db, "event.message_sent") == []  # a preview sends nothing

    with smtp_server() as (mailbox, port):
        worker, http = worker_with(app, port)
        sent = await client.post(
            f"/api/v1/events/{event['id']}/messages", headers=admin.headers, json=MESSAGE
        )
        assert sent.status_code == 201, sent.text
        body = sent.json()
        assert body["recipients"] == 8 and body["tables_only"] is False
        assert body["audience"] == ["confirmed"]
        [row] = await outbox_events(db, "event.message_sent")
        assert str(row.subject_id) == body["id"] and "closed" not in str(row.data)
        outbox_id = row.id
        await worker.run_once()
        await http.aclose()
    # The worker also sent what was queued before (the confirmation, the seat): only the message.
    messages = [m for m in mailbox.messages if "Entrance" in m["Subject"]]
    recipients = {m["To"].addresses[0].addr_spec for m in messages}
    assert len(messages) == 8 and muted.member.email not in recipients
    message = messages[0]
    assert message["Subject"] == "Board 17: Entrance from the courtyard"
    assert "The main door is closed." in text_of(message)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    stored = await db.get(EventMessage, uuid.UUID(body["id"]))
    assert stored is not None and stored.author_id == admin.id and stored.recipients == 8
    db.expire_all()
    deliveries = (
        (await db.execute(select(Delivery).where(Delivery.event_id == outbox_id))).scalars().all()
    )
    assert len(deliveries) == 8 and {d.status for d in deliveries} == {"succeeded"}


async def test_a_facilitator_writes_to_their_own_tables_only(client, factory, db, app):
    admin = await factory.member("admin")
    event, actors = await seated_event(
        client, db, factory, admin, 8, table_size=4, facilitators=2, title="Board 18"
    )
    plan = await publish_seating(client, admin, event)
    facilitator = actors[0]
    mine = next(
        t for t in plan["tables"] if str(facilitator.id) in {a["member_id"] for a in t["attendees"]}
    )
    table_people = {a["member_id"] for a in mine["attendees"]}
    preview = await client.post(
        f"/api/v1/events/{event['id']}/messages/preview",
        headers=facilitator.headers,
        json=MESSAGE,
    )
    assert preview.status_code == 200 and preview.json()["recipients"] == len(table_people)
    with smtp_server() as (mailbox, port):
        worker, http = worker_with(app, port)
        sent = await client.post(
            f"/api/v1/events/{event['id']}/messages", headers=facilitator.headers, json=MESSAGE
        )
        assert sent.status_code == 201 and sent.json()["tables_only"] is True
        await worker.run_once()
        await http.aclose()
    emails = {
        m["To"].addresses[0].addr_spec for m in mailbox.messages if "Entrance" in m["Subject"]
    }
    assert emails == {a.member.email for a in actors if str(a.id) in table_people}

    # A facilitator of another event, and a plain member, may not write here.
    stranger = await factory.member("member", "facilitator")
    for who, status in ((stranger, 404), (actors[5], 403)):
        refused = await client.post(
            f"/api/v1/events/{event['id']}/messages", headers=who.headers, json=MESSAGE
        )
        assert refused.status_code == status, refused.text
        assert_problem(refused)


async def test_bad_messages_are_refused(client, factory, db):
    admin = await factory.member("admin")
    event, _ = await seated_event(client, db, factory, admin, 2)
    url = f"/api/v1/events/{event['id']}/messages"
    for bad in (
        {**MESSAGE, "subject": "Hi\r\nBcc: everyone@example.org"},
        {**MESSAGE, "audience": []},
        {**MESSAGE, "audience": ["cancelled"]},
        {"subject": "x"},
    ):
        refused = await client.post(url, headers=admin.headers, json=bad)
        assert refused.status_code == 422, bad
        assert_problem(refused)
    nobody = await client.post(
        url, headers=admin.headers, json={**MESSAGE, "audience": ["waitlisted"]}
    )
    assert nobody.status_code == 409
    assert_problem(nobody)
