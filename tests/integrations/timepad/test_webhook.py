"""Timepad through HTTP: signatures, the inbox, both payload shapes, replays, reordering,
Cyrillic, and a dropped tenth of the webhooks repaired by one reconciliation pass."""

import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import select

from app.models.event import Event
from app.models.inbox import InboxMessage
from app.models.registration import Registration
from tests.conftest import TIMEPAD_SECRET, make_settings, outbox_events
from tests.events.helpers import confirm, open_event, register
from tests.integrations.timepad.fake import TOKEN, FakeTimepad, body_of, legacy, order, signature
from tests.receivers import serve

URL = "/api/v1/integrations/timepad/webhook"
TIMEPAD_EVENT = 215813


async def send(client, payload, secret=TIMEPAD_SECRET, header=None):
    body = payload if isinstance(payload, bytes) else body_of(payload)
    headers = {
        "content-type": "application/json",
        "x-hub-signature": header if header is not None else signature(secret, body),
    }
    return await client.post(URL, content=body, headers=headers)


async def registrations(db) -> list[Registration]:
    db.expire_all()
    return list(
        (await db.execute(select(Registration).order_by(Registration.created_at))).scalars()
    )


@contextmanager
def timepad_at(app, base: str):
    """The app talking to the fake Timepad at ``base`` for the duration of the block."""
    original = app.state.settings
    app.state.settings = make_settings(timepad_api_url=base, timepad_api_token=TOKEN)
    try:
        yield
    finally:
        app.state.settings = original


@pytest.fixture
async def event(client, factory):
    admin = await factory.member("admin")
    return await open_event(client, admin, seats=2, timepad_event_id=TIMEPAD_EVENT)


class TestSignature:
    @pytest.mark.parametrize(
        "header",
        [
            "",
            "sha1=",
            "sha1=" + "0" * 40,
            "sha256=abc",
            "md5=zzz",
        ],
    )
    async def test_bad_signature_stores_nothing(self, client, db, event, header):
        response = await send(
            client, order(1, TIMEPAD_EVENT, "a@example.com", "paid"), header=header
        )
        assert response.status_code == 403
        assert (await db.execute(select(InboxMessage))).scalars().all() == []
        assert await registrations(db) == []

    async def test_another_secret_is_refused(self, client, db, event):
        response = await send(
            client, order(1, TIMEPAD_EVENT, "a@example.com", "paid"), secret="not the phrase"
        )
        assert response.status_code == 403
        assert await registrations(db) == []

    async def test_a_signed_body_changed_in_transit_is_refused(self, client, db, event):
        body = body_of(order(1, TIMEPAD_EVENT, "a@example.com", "paid"))
        header = signature(TIMEPAD_SECRET, body)
        tampered = body.replace(b'"paid"', b'"ok"  ')
        response = await send(client, tampered, header=header)
        assert response.status_code == 403


class TestOrders:
    async def test_paid_order_of_a_member_confirms_a_seat(self, client, factory, db, event):
        member = await factory.member("member", email="Anna@Example.com")
        response = await send(client, order(101, TIMEPAD_EVENT, "anna@example.com", "paid"))
        assert response.status_code == 202 and response.json() == {"status": "accepted"}
        [registration] = await registrations(db)
        assert (registration.member_id, registration.status, registration.source) == (
            member.id,
            "confirmed",
            "timepad",
        )
        assert (registration.timepad_order_id, registration.timepad_status) == (101, "paid")
        [message] = (await db.execute(select(InboxMessage))).scalars().all()
        assert message.processed_at is not None and message.last_error is None
        assert "anna@example.com" in message.body
        types = [e.type for e in await outbox_events(db) if e.type.startswith("registration")]
        assert types == ["registration.created", "registration.confirmed"]
        assert (await db.get(Event, uuid.UUID(event["id"]))).seats_held == 1

    async def test_legacy_booking_of_someone_unknown_is_a_cyrillic_guest(self, client, db, event):
        response = await send(
            client,
            legacy(
                202, TIMEPAD_EVENT, "gost@example.ru", "booked", name="Владимир", surname="Смирнов"
            ),
        )
        assert response.status_code == 202
        [registration] = await registrations(db)
        assert (
            registration.member_id,
            registration.guest_email,
            registration.guest_name,
            registration.status,
        ) == (None, "gost@example.ru", "Владимир Смирнов", "pending_confirmation")

    async def test_an_order_names_its_guest_from_the_ticket_and_the_list_shows_it(
        self, client, factory, db, event
    ):
        payload = order(303, TIMEPAD_EVENT, "guest@example.org", "booked")
        payload["answers"] = {}  # the order's own answers are empty: the ticket has the name
        payload["tickets"] = [
            {"id": 3030, "answers": {"name": "Мария", "surname": "Иванова"}},
            "not a ticket",
        ]
        assert (await send(client, payload)).status_code == 202
        [registration] = await registrations(db)
        assert registration.guest_name == "Мария Иванова" and registration.member_id is None
        admin = await factory.member("admin")
        listed = await client.get(
            f"/api/v1/events/{event['id']}/registrations", headers=admin.headers
        )
        [item] = listed.json()["items"]
        assert item["attendee_name"] == "Мария Иванова"

    async def test_an_unverified_account_does_not_get_the_ticket(self, client, factory, db, event):
        squatter = await factory.member("member", email="owner@example.com", email_verified_at=None)
        assert (
            await send(client, order(404, TIMEPAD_EVENT, "owner@example.com", "paid"))
        ).status_code == 202
        [registration] = await registrations(db)
        assert registration.member_id is None and registration.guest_email == "owner@example.com"
        assert squatter.id != registration.member_id

    async def test_replay_changes_nothing(self, client, db, event):
        payload = order(303, TIMEPAD_EVENT, "r@example.com", "paid")
        first, second = await send(client, payload), await send(client, payload)
        assert (first.json()["status"], second.json()["status"]) == ("accepted", "duplicate")
        assert len(await registrations(db)) == 1
        assert len((await db.execute(select(InboxMessage))).scalars().all()) == 1

    async def test_an_older_status_arriving_late_does_not_win(self, client, db, event):
        await send(client, order(404, TIMEPAD_EVENT, "late@example.com", "paid"))
        await send(client, order(404, TIMEPAD_EVENT, "late@example.com", "booked"))
        [registration] = await registrations(db)
        assert (registration.status, registration.timepad_status) == ("confirmed", "paid")

    async def test_refund_frees_the_seat_for_the_next_in_line(self, client, factory, db, event):
        admin = await factory.member("admin")
        waiting = await factory.member("member")
        await send(client, order(501, TIMEPAD_EVENT, "one@example.com", "paid"))
        await send(client, order(502, TIMEPAD_EVENT, "two@example.com", "paid"))
        mine = await register(client, waiting, event["id"])
        assert (await confirm(client, waiting, mine["id"]))["status"] == "waitlisted"
        await send(client, order(501, TIMEPAD_EVENT, "one@example.com", "returned"))
        by_order = {r.timepad_order_id: r for r in await registrations(db)}
        assert (by_order[501].status, by_order[501].cancel_reason) == ("cancelled", "timepad")
        offered = next(r for r in await registrations(db) if r.member_id == waiting.id)
        assert offered.status == "offered"
        assert admin  # the event's owner

    async def test_unusable_payload_is_kept_and_not_retried(self, client, db, event):
        response = await send(client, b'{"hello": "world"}')
        assert response.status_code == 202
        [message] = (await db.execute(select(InboxMessage))).scalars().all()
        assert message.processed_at is not None and "unusable payload" in message.last_error
        assert await registrations(db) == []

    async def test_bodies_that_can_never_apply_are_kept_once_and_listed(
        self, client, factory, db, event, settings, caplog
    ):
        from datetime import UTC, datetime

        from app.integrations.timepad import service

        deep = b"[" * 50_000 + b"]" * 50_000
        huge = b'{"id": ' + b"7" * 5_001 + b', "status": {"name": "paid"}}'
        with caplog.at_level("WARNING", logger="app.integrations.timepad.service"):
            for body in (deep, huge):
                assert (await send(client, body)).status_code == 202
        db.expire_all()
        messages = (await db.execute(select(InboxMessage))).scalars().all()
        assert len(messages) == 2
        assert all(m.processed_at is not None for m in messages)
        assert all(m.last_error.startswith("unusable payload") for m in messages)
        # Never picked up again by the retry job, and logged once each without a traceback.
        assert await service.retry_inbox(db, settings, datetime.now(UTC)) == 0
        unusable = [r for r in caplog.records if "unusable" in r.getMessage()]
        assert len(unusable) == 2 and all(r.exc_info is None for r in unusable)
        admin = await factory.member("admin")
        listed = await client.get(
            "/api/v1/integrations/timepad/unusable", headers=admin.headers, params={"limit": 1}
        )
        assert listed.status_code == 200, listed.text
        page = listed.json()
        assert len(page["items"]) == 1 and page["next_cursor"]
        rest = await client.get(
            "/api/v1/integrations/timepad/unusable",
            headers=admin.headers,
            params={"cursor": page["next_cursor"]},
        )
        items = page["items"] + rest.json()["items"]
        assert {i["size_bytes"] for i in items} == {len(deep), len(huge)}
        assert all("RecursionError" in i["error"] or "ValueError" in i["error"] for i in items)
        member = await factory.member("member")
        forbidden = await client.get(
            "/api/v1/integrations/timepad/unusable", headers=member.headers
        )
        assert forbidden.status_code == 403

    async def test_an_event_not_run_through_timepad_is_ignored(self, client, db, event):
        response = await send(client, order(601, 999, "x@example.com", "paid"))
        assert response.status_code == 202
        assert await registrations(db) == []


class TestReconciliation:
    async def test_a_dropped_tenth_is_repaired_by_one_pass(self, client, factory, db, app):
        admin = await factory.member("admin")
        event = await open_event(client, admin, seats=30, timepad_event_id=TIMEPAD_EVENT)
        fake = FakeTimepad()
        orders = [
            order(
                1000 + n,
                TIMEPAD_EVENT,
                f"p{n}@example.com",
                "paid" if n % 3 else "booked",
                name=f"Участник {n}",
            )
            for n in range(20)
        ]
        fake.orders[TIMEPAD_EVENT] = orders
        for n, payload in enumerate(orders):
            if n % 10 != 3:  # every tenth webhook is lost on the way
                await send(client, payload)
        # One cancellation never arrived either, and one registration Timepad no longer has.
        orders[5] = order(1005, TIMEPAD_EVENT, "p5@example.com", "returned")
        await send(client, order(7777, TIMEPAD_EVENT, "ghost@example.com", "booked"))
        assert len(await registrations(db)) == 19

        async with serve(fake.app()) as base:
            with timepad_at(app, base):
                response = await client.post(
                    f"/api/v1/integrations/timepad/events/{event['id']}/reconcile",
                    headers=admin.headers,
                )
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["orders_in_timepad"] == 20
        assert sorted(e["order_id"] for e in report["missing_here"]) == [1003, 1013]
        assert [e["order_id"] for e in report["status_differs"]] == [1005]
        assert [e["order_id"] for e in report["missing_there"]] == [7777]
        by_order = {r.timepad_order_id: r for r in await registrations(db)}
        assert set(by_order) >= {1000 + n for n in range(20)}
        assert by_order[1005].status == "cancelled"
        assert by_order[1003].guest_name == "Участник 3 Смирнов"

    async def test_timepad_down_is_a_503(self, client, factory, db, app):
        admin = await factory.member("admin")
        event = await open_event(client, admin, timepad_event_id=TIMEPAD_EVENT)
        fake = FakeTimepad(down=True)
        async with serve(fake.app()) as base:
            with timepad_at(app, base):
                response = await client.post(
                    f"/api/v1/integrations/timepad/events/{event['id']}/reconcile",
                    headers=admin.headers,
                )
        assert response.status_code == 503 and response.headers["Retry-After"]


async def test_a_failed_application_is_retried_by_the_job(client, db, event, settings, monkeypatch):
    from app.integrations.timepad import service

    original = service.apply_order

    async def broken(*args, **kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(service, "apply_order", broken)
    response = await send(client, order(888, TIMEPAD_EVENT, "retry@example.com", "paid"))
    assert response.status_code == 202  # stored: Timepad is never asked to resend
    [message] = (await db.execute(select(InboxMessage))).scalars().all()
    await db.refresh(message)
    assert message.processed_at is None and "database hiccup" in message.last_error
    assert await registrations(db) == []

    monkeypatch.setattr(service, "apply_order", original)
    from datetime import UTC, datetime

    assert await service.retry_inbox(db, settings, datetime.now(UTC)) == 1
    await db.flush()
    [registration] = await registrations(db)
    assert registration.timepad_order_id == 888 and registration.status == "confirmed"


async def test_the_hourly_job_reconciles_every_open_event(client, factory, db):
    from datetime import UTC, datetime

    from app.integrations.timepad import service

    admin = await factory.member("admin")
    first = await open_event(client, admin, timepad_event_id=1001)
    await open_event(client, admin, timepad_event_id=1002)  # Timepad knows nothing of it
    fake = FakeTimepad(orders={1001: [order(1, 1001, "a@example.com", "paid")]})
    fake_down_for = {1002}

    app_under_test = fake.app()

    async def selective(scope, receive, send):
        if scope["type"] == "http" and any(f"/{e}/" in scope["path"] for e in fake_down_for):
            fake.down = True
        else:
            fake.down = False
        await app_under_test(scope, receive, send)

    async with serve(selective) as base:
        settings = make_settings(timepad_api_url=base, timepad_api_token=TOKEN)
        assert await service.reconcile_open_events(db, settings, datetime.now(UTC)) == 1
    await db.flush()
    [registration] = await registrations(db)
    assert str(registration.event_id) == first["id"] and registration.status == "confirmed"
