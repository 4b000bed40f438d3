"""Registrations through HTTP: the double confirmation, the waiting list and offers,
cancellation, check-in, the confirmation link, sources and attendance."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.auth.revocations import token_versions
from app.models.event import Event
from app.models.registration import Registration
from app.registrations import service
from tests.conftest import IS_POSTGRES, make_settings, outbox_events
from tests.events.helpers import confirm, move, open_event, register
from tests.problems import assert_problem


async def row(db, registration_id) -> Registration:
    db.expire_all()
    return await db.get(Registration, uuid.UUID(str(registration_id)))


async def seats_held(db, event_id) -> int:
    db.expire_all()
    return (await db.get(Event, uuid.UUID(event_id))).seats_held


class TestRegister:
    async def test_register_then_confirm_takes_a_seat(self, client, factory, db):
        admin, member = await factory.member("admin"), await factory.member("member")
        event = await open_event(client, admin, seats=2)
        created = await register(
            client, member, event["id"], source="ads", utm_source="telegram", utm_campaign="board-1"
        )
        assert (created["status"], created["member_id"], created["source"]) == (
            "pending_confirmation",
            str(member.id),
            "ads",
        )
        assert await seats_held(db, event["id"]) == 0  # pending holds no seat
        confirmed = await confirm(client, member, created["id"])
        assert confirmed["status"] == "confirmed" and confirmed["confirmed_at"]
        assert await seats_held(db, event["id"]) == 1
        again = await confirm(client, member, created["id"])  # harmless
        assert again["status"] == "confirmed" and again["version"] == confirmed["version"]
        assert [e.type for e in await outbox_events(db) if e.type.startswith("registration")] == [
            "registration.created",
            "registration.confirmed",
        ]
        [event_row] = await outbox_events(db, "registration.confirmed")
        assert event_row.data == {
            "id": created["id"],
            "version": 2,
            "event_id": event["id"],
            "status": "confirmed",
        }

    async def test_registering_and_confirming_cost_few_statements(
        self, client, factory, count_statements, monkeypatch
    ):
        """The two requests of every registration, on the event-day race's path: each
        statement is a round trip, and round trips are most of their CPU."""
        monkeypatch.setattr(token_versions, "trust_seconds", 60.0)  # a loaded machine is slow
        admin, member = await factory.member("admin"), await factory.member("member")
        event = await open_event(client, admin, seats=2)
        await client.get("/api/v1/me", headers=member.headers)  # the token's version cached

        def run() -> list[str]:
            ran = [
                " ".join(s.split()[:3])
                for s in count_statements
                if not s.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK"))
            ]
            count_statements.clear()
            return ran

        run()
        created = await register(client, member, event["id"])
        # The event, whether the address is verified (with the name the answer shows), the
        # registration and its event in the outbox: in one statement on PostgreSQL.
        written = (
            ["WITH added AS"]
            if IS_POSTGRES
            else ["INSERT INTO registration", "INSERT INTO outbox_event"]
        )
        assert run() == [
            "SELECT event.id, event.title,",
            "SELECT member.email_verified_at, member.full_name",
            *written,
        ]
        await confirm(client, member, created["id"])
        # The registration locked, read with its event and the attendee's name; then the
        # confirmation, its event in the outbox and the seat (last: see ``confirm_seat``).
        ran = run()
        assert ran == [
            "SELECT registration.id, registration.event_id,",
            "INSERT INTO outbox_event",
            "UPDATE registration SET",
            "UPDATE event SET",
        ]

    async def test_one_registration_per_person(self, client, factory, db):
        admin, member = await factory.member("admin"), await factory.member("member")
        event = await open_event(client, admin)
        await register(client, member, event["id"])
        second = await client.post(
            f"/api/v1/events/{event['id']}/registrations", headers=member.headers, json={}
        )
        assert second.status_code == 409
        assert_problem(second)
        rows = (await db.execute(select(Registration))).scalars().all()
        assert len(rows) == 1

    @pytest.mark.parametrize("status", ["draft", "published", "registration_closed"])
    async def test_only_while_registration_is_open(self, client, factory, db, status):
        admin, member = await factory.member("admin"), await factory.member("member")
        event = await open_event(client, admin)
        await db.execute(update(Event).values(status=status))
        response = await client.post(
            f"/api/v1/events/{event['id']}/registrations", headers=member.headers, json={}
        )
        assert response.status_code in (404, 409)  # a draft is not even visible
        assert (await db.execute(select(Registration))).scalars().all() == []

    async def test_applicants_cannot_register(self, client, factory, db):
        admin, applicant = await factory.member("admin"), await factory.member("applicant")
        event = await open_event(client, admin, visibility="public")
        response = await client.post(
            f"/api/v1/events/{event['id']}/registrations", headers=applicant.headers, json={}
        )
        assert response.status_code == 403
        assert (await db.execute(select(Registration))).scalars().all() == []


class TestWaitingList:
    async def test_full_event_waitlists_in_order_and_offers_freed_seats(self, client, factory, db):
        admin = await factory.member("admin")
        people = [await factory.member("member") for _ in range(4)]
        event = await open_event(client, admin, seats=2)
        registrations = [await register(client, p, event["id"]) for p in people]
        results = [
            await confirm(client, p, r["id"]) for p, r in zip(people, registrations, strict=True)
        ]
        assert [r["status"] for r in results] == [
            "confirmed",
            "confirmed",
            "waitlisted",
            "waitlisted",
        ]
        assert [r["waitlist_position"] for r in results[2:]] == [1, 2]

        cancelled = await client.post(
            f"/api/v1/registrations/{registrations[0]['id']}/cancel", headers=people[0].headers
        )
        assert cancelled.json()["status"] == "cancelled"
        offered = await row(db, registrations[2]["id"])
        assert offered.status == "offered" and offered.offer_expires_at is not None
        assert (await row(db, registrations[3]["id"])).status == "waitlisted"
        assert await seats_held(db, event["id"]) == 2  # the offer holds the freed seat

        taken = await confirm(client, people[2], registrations[2]["id"])
        assert taken["status"] == "confirmed" and taken["offer_expires_at"] is None
        assert await seats_held(db, event["id"]) == 2
        counts = (
            await client.get(f"/api/v1/events/{event['id']}/counts", headers=people[1].headers)
        ).json()
        assert (
            counts["confirmed"],
            counts["waitlisted"],
            counts["cancelled"],
            counts["available"],
        ) == (2, 1, 1, 0)
        types = [e.type for e in await outbox_events(db) if e.type.startswith("registration")]
        assert types.count("registration.offered") == 1
        assert types.count("registration.waitlisted") == 2

    async def test_expired_offer_moves_on(self, client, factory, db, settings):
        admin = await factory.member("admin")
        people = [await factory.member("member") for _ in range(3)]
        event = await open_event(client, admin, seats=1)
        regs = [await register(client, p, event["id"]) for p in people]
        for p, r in zip(people, regs, strict=True):
            await confirm(client, p, r["id"])
        await client.post(
            f"/api/v1/registrations/{regs[0]['id']}/cancel", headers=people[0].headers
        )
        assert (await row(db, regs[1]["id"])).status == "offered"
        later = datetime.now(UTC) + timedelta(hours=settings.registration_offer_hours, minutes=1)
        assert await service.expire_offers(db, settings, later) == 1
        await db.flush()  # the scheduler commits a job's work; here the test's session holds it
        lapsed = await row(db, regs[1]["id"])
        assert (lapsed.status, lapsed.cancel_reason) == ("cancelled", "offer_expired")
        assert (await row(db, regs[2]["id"])).status == "offered"
        assert await seats_held(db, event["id"]) == 1

    async def test_unconfirmed_are_released_after_the_deadline(self, client, factory, db, settings):
        admin, member = await factory.member("admin"), await factory.member("member")
        deadline = datetime.now(UTC) + timedelta(days=1)
        event = await open_event(client, admin, confirm_by=deadline.isoformat())
        created = await register(client, member, event["id"])
        assert await service.release_unconfirmed(db, settings, datetime.now(UTC)) == 0
        assert await service.release_unconfirmed(db, settings, deadline + timedelta(minutes=1)) == 1
        await db.flush()
        released = await row(db, created["id"])
        assert (released.status, released.cancel_reason) == ("cancelled", "not_confirmed")
        [cancelled] = await outbox_events(db, "registration.cancelled")
        assert cancelled.data["reason"] == "not_confirmed"

    async def test_cancelled_cannot_be_confirmed(self, client, factory, db):
        admin, member = await factory.member("admin"), await factory.member("member")
        event = await open_event(client, admin)
        created = await register(client, member, event["id"])
        await client.post(f"/api/v1/registrations/{created['id']}/cancel", headers=member.headers)
        response = await client.post(
            f"/api/v1/registrations/{created['id']}/confirm", headers=member.headers
        )
        assert response.status_code == 409
        assert (await row(db, created["id"])).status == "cancelled"


class TestPrivacy:
    async def test_another_members_registration_is_not_found(self, client, factory, db):
        admin = await factory.member("admin")
        owner, other = await factory.member("member"), await factory.member("member")
        event = await open_event(client, admin)
        created = await register(client, owner, event["id"])
        for method, path in (
            ("GET", ""),
            ("POST", "/confirm"),
            ("POST", "/cancel"),
            ("GET", "/qr"),
        ):
            response = await client.request(
                method, f"/api/v1/registrations/{created['id']}{path}", headers=other.headers
            )
            assert response.status_code == 404, path
        assert (await row(db, created["id"])).status == "pending_confirmation"
        mine = (await client.get("/api/v1/registrations", headers=other.headers)).json()
        assert mine["items"] == []

    async def test_the_event_list_shows_guest_details_to_admins_only(self, client, factory, db):
        admin, facilitator = await factory.member("admin"), await factory.member("facilitator")
        event = await open_event(client, admin)
        db.add(
            Registration(
                event_id=uuid.UUID(event["id"]),
                guest_email="guest@example.com",
                guest_name="Guest",
                status="confirmed",
                timepad_order_id=77,
            )
        )
        await db.flush()
        path = f"/api/v1/events/{event['id']}/registrations"
        [seen_by_admin] = (await client.get(path, headers=admin.headers)).json()["items"]
        assert seen_by_admin["guest_email"] == "guest@example.com"
        assert seen_by_admin["timepad_order_id"] == 77
        [seen_by_facilitator] = (await client.get(path, headers=facilitator.headers)).json()[
            "items"
        ]
        assert "guest_email" not in seen_by_facilitator
        assert "timepad_order_id" not in seen_by_facilitator


class TestCheckIn:
    async def test_by_id_and_by_qr_idempotent_by_nonce(self, client, factory, db):
        admin, member = await factory.member("admin"), await factory.member("member")
        facilitator = await factory.member("facilitator")
        event = await open_event(client, admin)
        created = await register(client, member, event["id"])
        pending = await client.post(
            f"/api/v1/registrations/{created['id']}/check-in",
            headers=facilitator.headers,
            json={"nonce": "scan-00000001"},
        )
        assert pending.status_code == 409  # not confirmed yet
        await confirm(client, member, created["id"])
        qr = (
            await client.get(f"/api/v1/registrations/{created['id']}/qr", headers=member.headers)
        ).json()["qr_token"]
        url = f"/api/v1/events/{event['id']}/check-in"
        first = await client.post(
            url, headers=facilitator.headers, json={"qr_token": qr, "nonce": "scan-00000002"}
        )
        assert first.status_code == 200 and first.json()["status"] == "checked_in"
        assert first.json()["attendee_name"]
        retried = await client.post(
            url, headers=facilitator.headers, json={"qr_token": qr, "nonce": "scan-00000002"}
        )
        assert retried.status_code == 200 and retried.json() == first.json()
        second = await client.post(
            url, headers=facilitator.headers, json={"qr_token": qr, "nonce": "scan-00000003"}
        )
        assert second.status_code == 409 and "Already checked in" in second.json()["detail"]
        forged = await client.post(
            url,
            headers=facilitator.headers,
            json={"qr_token": qr[:-3] + "AAA", "nonce": "scan-00000004"},
        )
        assert forged.status_code == 422
        assert len(await outbox_events(db, "registration.checked_in")) == 1
        by_member = await client.post(
            f"/api/v1/registrations/{created['id']}/check-in",
            headers=member.headers,
            json={"nonce": "scan-00000005"},
        )
        assert by_member.status_code == 403

    async def test_qr_of_another_event_is_not_found(self, client, factory, db):
        admin, member = await factory.member("admin"), await factory.member("member")
        event, other = await open_event(client, admin), await open_event(client, admin)
        created = await register(client, member, event["id"])
        await confirm(client, member, created["id"])
        qr = (
            await client.get(f"/api/v1/registrations/{created['id']}/qr", headers=member.headers)
        ).json()["qr_token"]
        response = await client.post(
            f"/api/v1/events/{other['id']}/check-in",
            headers=admin.headers,
            json={"qr_token": qr, "nonce": "scan-00000009"},
        )
        assert response.status_code == 404
        assert (await row(db, created["id"])).status == "confirmed"


class TestConfirmationLink:
    async def test_link_works_once(self, client, factory, db, settings):
        admin, member = await factory.member("admin"), await factory.member("member")
        event = await open_event(client, admin)
        created = await register(client, member, event["id"])
        registration = await row(db, created["id"])
        token = service.confirmation_link_token(settings, registration, datetime.now(UTC))
        used = await client.post("/api/v1/registrations/confirm-link", json={"token": token})
        assert used.status_code == 200 and used.json()["status"] == "confirmed"
        assert "guest_email" not in used.json()
        again = await client.post("/api/v1/registrations/confirm-link", json={"token": token})
        assert again.status_code == 409

    async def test_forged_and_expired_links_are_refused(self, client, factory, db, settings):
        admin, member = await factory.member("admin"), await factory.member("member")
        event = await open_event(client, admin)
        created = await register(client, member, event["id"])
        registration = await row(db, created["id"])
        expired = service.confirmation_link_token(
            settings, registration, datetime.now(UTC) - timedelta(days=400)
        )
        other_key = service.confirmation_link_token(
            make_settings(jwt_secret="another-secret-" + "x" * 40), registration, datetime.now(UTC)
        )
        qr = service.qr_token(settings, registration)  # a QR code is no confirmation link
        for token in (expired, other_key, qr, "a.b.c.d.e.f.g.h.i.j"):
            response = await client.post(
                "/api/v1/registrations/confirm-link", json={"token": token}
            )
            assert response.status_code == 422, token
        assert (await row(db, created["id"])).status == "pending_confirmation"


class TestEventEnds:
    async def test_completion_marks_no_shows_and_cancellation_cancels_all(
        self, client, factory, db
    ):
        admin = await factory.member("admin")
        came, stayed, pending = [await factory.member("member") for _ in range(3)]
        event = await open_event(client, admin)
        came_reg, stayed_reg, pending_reg = [
            await register(client, p, event["id"]) for p in (came, stayed, pending)
        ]
        await confirm(client, came, came_reg["id"])
        await confirm(client, stayed, stayed_reg["id"])
        await client.post(
            f"/api/v1/registrations/{came_reg['id']}/check-in",
            headers=admin.headers,
            json={"nonce": "scan-10000000"},
        )
        await move(client, admin, event["id"], "registration_closed", "completed")
        assert (await row(db, came_reg["id"])).status == "checked_in"
        assert (await row(db, stayed_reg["id"])).status == "no_show"
        assert (await row(db, pending_reg["id"])).cancel_reason == "event_over"
        history = (
            await client.get(f"/api/v1/members/{stayed.id}/attendance", headers=admin.headers)
        ).json()
        assert (history["registered"], history["attended"], history["no_show"]) == (1, 0, 1)

        other = await open_event(client, admin)
        late = await register(client, came, other["id"])
        await confirm(client, came, late["id"])
        await move(client, admin, other["id"], "cancelled")
        cancelled = await row(db, late["id"])
        assert (cancelled.status, cancelled.cancel_reason) == ("cancelled", "event_cancelled")
        assert await seats_held(db, other["id"]) == 0
        assert len(await outbox_events(db, "event.cancelled")) == 1


async def test_sources(client, factory, db):
    admin = await factory.member("admin")
    event = await open_event(client, admin)
    for source, campaign in (("ads", "a"), ("ads", "a"), ("friend", None)):
        member = await factory.member("member")
        created = await register(client, member, event["id"], source=source, utm_campaign=campaign)
        if source == "ads":
            await confirm(client, member, created["id"])
    stats = (
        await client.get(
            f"/api/v1/events/{event['id']}/registrations/sources", headers=admin.headers
        )
    ).json()
    assert stats == [
        {
            "source": "ads",
            "utm_source": None,
            "utm_campaign": "a",
            "registrations": 2,
            "confirmed": 2,
            "checked_in": 0,
        },
        {
            "source": "friend",
            "utm_source": None,
            "utm_campaign": None,
            "registrations": 1,
            "confirmed": 0,
            "checked_in": 0,
        },
    ]
    listed = (
        await client.get(
            f"/api/v1/events/{event['id']}/registrations",
            params={"status": "confirmed"},
            headers=admin.headers,
        )
    ).json()
    assert len(listed["items"]) == 2 and all(r["attendee_name"] for r in listed["items"])
