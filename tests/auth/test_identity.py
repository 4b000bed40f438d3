"""Everyone the council approves can get in: verified addresses, invitations, password reset,
the first admin; e-mails go through the outbox to a real local SMTP server.
"""

import re
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select, update

from app.auth import accounts
from app.manage.accounts import create_admin_with
from app.models.application import Application
from app.models.audit import AuditEntry
from app.models.member import Member
from app.models.token import AccountLink, ApiToken, LinkPurpose, RefreshToken
from app.registrations import service as registrations_service
from tests.auth.test_router import PASSWORD, login, signup
from tests.conftest import outbox_events
from tests.events.helpers import open_event
from tests.notifications.test_email import worker_with
from tests.smtp import smtp_server, text_of

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def mail():
    with smtp_server(smtputf8=True) as (mailbox, port):
        yield mailbox, port


async def deliver(app, port) -> None:
    """Run the worker once: every e-mail due goes to the local SMTP server."""
    worker, http = worker_with(app, port)
    try:
        await worker.run_once()
    finally:
        await http.aclose()


def messages_to(mailbox, address: str) -> list:
    return [m for m in mailbox.messages if m["To"].addresses[0].addr_spec == address]


def link_in(message) -> tuple[str, str]:
    """(page, token) of the one link in the e-mail."""
    [url] = re.findall(r"https?://\S+", text_of(message))
    parts = urlsplit(url)
    return parts.path.rsplit("/", 1)[-1], parse_qs(parts.query)["token"][0]


async def links_of(db, member_id, purpose) -> list[AccountLink]:
    db.expire_all()
    query = select(AccountLink).where(
        AccountLink.member_id == member_id, AccountLink.purpose == purpose
    )
    return list((await db.execute(query)).scalars())


async def member_by_email(db, email: str) -> Member:
    db.expire_all()
    return (await db.execute(select(Member).where(Member.email_normalized == email))).scalar_one()


class TestSignupWithoutEnumeration:
    async def test_new_and_taken_addresses_get_the_same_answer(self, client, db, app, mail):
        mailbox, port = mail
        first = await signup(client, email="anna@example.com")
        again = await signup(client, email="anna@example.com")
        fresh = await signup(client, email="boris@example.com")
        assert first.status_code == again.status_code == fresh.status_code == 202
        assert first.json() == again.json() == fresh.json()
        assert first.json()["status"] == "accepted"
        varying = {"x-request-id", "date", "content-length"}
        assert {k: v for k, v in first.headers.items() if k not in varying} == {
            k: v for k, v in again.headers.items() if k not in varying
        }
        assert await db.scalar(select(func.count()).select_from(Member)) == 2

        await deliver(app, port)
        [verification] = messages_to(mailbox, "boris@example.com")
        assert link_in(verification)[0] == "verify-email"
        anna = messages_to(mailbox, "anna@example.com")
        assert sorted(m["Subject"] for m in anna) == sorted(
            ["Подтвердите адрес почты для Digital Leaders", "Попытка регистрации с вашим адресом"]
        )
        [attempt] = [m for m in anna if "Попытка" in m["Subject"]]
        page, token = link_in(attempt)
        assert page == "reset-password" and "Ссылка работает один раз, до" in text_of(attempt)
        # The token is not in the database, only its digest; the outbox holds the account id.
        assert token not in str([row.data for row in await outbox_events(db)])
        [reset] = await links_of(
            db, (await member_by_email(db, "anna@example.com")).id, LinkPurpose.password_reset
        )
        assert reset.token_hash != token and len(token) >= 43

    async def test_nfkc_and_case_folding_make_one_account(self, client, db):
        assert (await signup(client, email="admin@example.com")).status_code == 202
        for variant in ("ａｄｍｉｎ@example.com", "ADMIN@EXAMPLE.COM"):
            assert (await signup(client, email=variant)).status_code == 202
        assert await db.scalar(select(func.count()).select_from(Member)) == 1
        assert (await login(client, email="ＡＤＭＩＮ@example.com")).status_code == 200

    async def test_names_refuse_control_and_bidirectional_characters(self, client, db):
        for name in ("nimdA \u202eytinummoC", "Community\u200bAdmin", "bell\x07", "\u2066x\u2069"):
            response = await signup(client, full_name=name)
            assert response.status_code == 422, name
            assert response.json()["type"] == "/problems/validation-error"
        assert await db.scalar(select(func.count()).select_from(Member)) == 0
        assert (await signup(client, full_name="Анна-Мария Петрова")).status_code == 202

    async def test_internal_events_are_not_offered_to_webhooks(self, client, factory):
        admin = await factory.member("admin")
        catalogue = (await client.get("/api/v1/webhooks/event-types", headers=admin.headers)).json()
        names = {t["name"] for t in catalogue}
        assert "member.created" in names and not any(n.startswith("account.") for n in names)
        refused = await client.post(
            "/api/v1/webhooks",
            headers=admin.headers,
            json={"url": "http://127.0.0.1:9/h", "event_types": ["account.invited"]},
        )
        assert refused.status_code == 422


class TestVerification:
    async def test_unverified_may_sign_in_and_edit_but_not_submit_or_register(
        self, client, factory, db, app, mail
    ):
        mailbox, port = mail
        admin = await factory.member("admin")
        event = await open_event(client, admin)
        await signup(client, email="vera@example.com")
        tokens = (await login(client, email="vera@example.com")).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        me = (await client.get("/api/v1/me", headers=headers)).json()
        assert me["email_verified_at"] is None
        assert (
            await client.patch("/api/v1/me", headers=headers, json={"city": "Kazan"})
        ).status_code == 200
        draft = await client.post(
            "/api/v1/applications",
            headers=headers,
            json={
                "function": "CTO",
                "seniority": 4,
                "industry": "Retail",
                "experience_summary": "Ran a platform team",
            },
        )
        assert draft.status_code == 201, draft.text
        refused = await client.post(
            f"/api/v1/applications/{draft.json()['id']}/submit", headers=headers
        )
        assert refused.status_code == 403 and refused.json()["type"] == "/problems/email-unverified"

        await deliver(app, port)
        _, token = link_in(messages_to(mailbox, "vera@example.com")[0])
        verified = await client.post("/api/v1/auth/verify-email", json={"token": token})
        assert verified.status_code == 200, verified.text
        assert verified.json()["email"] == "vera@example.com"
        me = (await client.get("/api/v1/me", headers=headers)).json()
        assert me["email_verified_at"] == verified.json()["email_verified_at"]
        again = await client.post("/api/v1/auth/verify-email", json={"token": token})
        assert again.status_code == 400 and again.json()["type"] == "/problems/invalid-link"
        submitted = await client.post(
            f"/api/v1/applications/{draft.json()['id']}/submit", headers=headers
        )
        assert submitted.status_code == 200, submitted.text

        unverified = await factory.member("member", email_verified_at=None)
        blocked = await client.post(
            f"/api/v1/events/{event['id']}/registrations", headers=unverified.headers, json={}
        )
        assert blocked.status_code == 403 and blocked.json()["type"] == "/problems/email-unverified"

    async def test_resend_is_throttled(self, client, factory, db, app):
        person = await factory.member("applicant", email_verified_at=None)
        limit = app.state.settings.link_requests_per_address
        for _ in range(limit):
            response = await client.post("/api/v1/auth/verification", headers=person.headers)
            assert response.status_code == 202, response.text
        throttled = await client.post("/api/v1/auth/verification", headers=person.headers)
        assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
        assert len(await links_of(db, person.id, LinkPurpose.verify_email)) == limit
        assert len(await outbox_events(db, "account.verification_requested")) == limit
        done = await factory.member("member")
        already = await client.post("/api/v1/auth/verification", headers=done.headers)
        assert already.status_code == 409

    async def test_unknown_expired_and_forged_tokens_are_one_refusal(
        self, client, factory, db, app
    ):
        person = await factory.member("applicant", email="kim@example.com", email_verified_at=None)
        await client.post("/api/v1/auth/verification", headers=person.headers)
        [link] = await links_of(db, person.id, LinkPurpose.verify_email)
        from app.auth.links import token_of

        token = token_of(app.state.settings, link)
        await db.execute(
            update(AccountLink)
            .where(AccountLink.id == link.id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        answers = [
            await client.post("/api/v1/auth/verify-email", json={"token": t})
            for t in (token, "x" * 43, token[:-1] + ("A" if token[-1] != "A" else "B"))
        ]
        assert {a.status_code for a in answers} == {400}
        assert len({(a.json()["type"], a.json()["detail"]) for a in answers}) == 1
        # A reset token is no verification token.
        await client.post("/api/v1/auth/password-reset", json={"email": "kim@example.com"})
        [reset] = await links_of(db, person.id, LinkPurpose.password_reset)
        wrong_kind = await client.post(
            "/api/v1/auth/verify-email", json={"token": token_of(app.state.settings, reset)}
        )
        assert wrong_kind.status_code == 400


class TestPasswordReset:
    async def test_reset_ends_every_session_and_token(self, client, factory, db, app, mail):
        mailbox, port = mail
        owner = await factory.with_password(PASSWORD, "member", email="olga@example.com")
        tokens = (await login(client, email="olga@example.com")).json()
        session_headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        pat = await client.post(
            "/api/v1/me/tokens", headers=session_headers, json={"name": "x", "scopes": ["read"]}
        )
        pat_headers = {"Authorization": f"Bearer {pat.json()['token']}"}
        assert (await client.get("/api/v1/me", headers=pat_headers)).status_code == 200

        known = await client.post("/api/v1/auth/password-reset", json={"email": "olga@example.com"})
        unknown = await client.post("/api/v1/auth/password-reset", json={"email": "no@example.com"})
        assert known.status_code == unknown.status_code == 202
        assert known.json() == unknown.json()
        await deliver(app, port)
        [message] = messages_to(mailbox, "olga@example.com")
        assert messages_to(mailbox, "no@example.com") == []
        page, token = link_in(message)
        assert page == "reset-password"

        done = await client.post(
            "/api/v1/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD}
        )
        assert done.status_code == 200, done.text
        assert done.json() == {"sessions_revoked": 1, "api_tokens_revoked": 1}
        for headers in (session_headers, pat_headers, owner.headers):
            assert (await client.get("/api/v1/me", headers=headers)).status_code == 401
        refresh = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refresh.status_code == 401
        assert (await login(client, email="olga@example.com")).status_code == 401
        assert (
            await login(client, email="olga@example.com", password=NEW_PASSWORD)
        ).status_code == 200
        twice = await client.post(
            "/api/v1/auth/password-reset/confirm", json={"token": token, "password": PASSWORD}
        )
        assert twice.status_code == 400 and twice.json()["type"] == "/problems/invalid-link"

    async def test_a_reset_link_dies_when_the_password_changes(self, client, factory, db, app):
        await factory.with_password(PASSWORD, "member", email="ivan@example.com")
        await client.post("/api/v1/auth/password-reset", json={"email": "ivan@example.com"})
        member = await member_by_email(db, "ivan@example.com")
        [link] = await links_of(db, member.id, LinkPurpose.password_reset)
        from app.auth.links import token_of

        token = token_of(app.state.settings, link)
        tokens = (await login(client, email="ivan@example.com")).json()
        changed = await client.post(
            "/api/v1/auth/password",
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
            json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        )
        assert changed.status_code == 200 and changed.json()["sessions_revoked"] == 1
        late = await client.post(
            "/api/v1/auth/password-reset/confirm", json={"token": token, "password": PASSWORD}
        )
        assert late.status_code == 400 and late.json()["type"] == "/problems/invalid-link"

    async def test_throttled_per_address_and_per_client(self, client, factory, db, app):
        await factory.with_password(PASSWORD, "member", email="pavel@example.com")
        settings = app.state.settings
        for _ in range(settings.link_requests_per_address + 2):
            response = await client.post(
                "/api/v1/auth/password-reset", json={"email": "pavel@example.com"}
            )
            assert response.status_code == 202
        member = await member_by_email(db, "pavel@example.com")
        links = await links_of(db, member.id, LinkPurpose.password_reset)
        assert len(links) == settings.link_requests_per_address
        for i in range(settings.link_requests_per_client - settings.link_requests_per_address - 2):
            await client.post("/api/v1/auth/password-reset", json={"email": f"p{i}@example.com"})
        blocked = await client.post("/api/v1/auth/password-reset", json={"email": "z@example.com"})
        assert (
            blocked.status_code == 429 and blocked.json()["type"] == "/problems/too-many-requests"
        )

    async def test_logout_everywhere_revokes_api_tokens_and_says_how_many(self, client, factory):
        await factory.with_password(PASSWORD, "member", email="lena@example.com")
        tokens = (await login(client, email="lena@example.com")).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        created = [
            await client.post(
                "/api/v1/me/tokens", headers=headers, json={"name": f"t{i}", "scopes": ["read"]}
            )
            for i in range(2)
        ]
        answer = await client.post("/api/v1/auth/logout-all", headers=headers)
        assert answer.status_code == 200
        assert answer.json() == {"sessions_revoked": 1, "api_tokens_revoked": 2}
        for pat in created:
            bearer = {"Authorization": f"Bearer {pat.json()['token']}"}
            assert (await client.get("/api/v1/me", headers=bearer)).status_code == 401


class TestInvitations:
    async def test_single_and_bulk_invitations_are_safe_to_repeat(self, client, factory, db, app):
        admin = await factory.member("admin")
        pending = [await factory.member("member", email_verified_at=None) for _ in range(3)]
        active = await factory.with_password(PASSWORD, "member")
        one = await client.post(
            f"/api/v1/members/{pending[0].id}/invitation", headers=admin.headers
        )
        assert one.status_code == 202 and one.json()["sent"] is True
        not_needed = await client.post(
            f"/api/v1/members/{active.id}/invitation", headers=admin.headers
        )
        assert not_needed.json() == {"member_id": str(active.id), "sent": False, "reason": "active"}
        bulk = await client.post(
            "/api/v1/members/invitations", headers=admin.headers, json={"all_pending": True}
        )
        assert bulk.status_code == 200, bulk.text
        report = bulk.json()
        assert (report["sent"], report["skipped"]) == (2, 1)
        assert {r["reason"] for r in report["results"] if not r["sent"]} == {"recent"}
        repeat = await client.post(
            "/api/v1/members/invitations", headers=admin.headers, json={"all_pending": True}
        )
        assert repeat.json()["sent"] == 0
        assert len(await outbox_events(db, "account.invited")) == 3
        unknown = await client.post(
            "/api/v1/members/invitations",
            headers=admin.headers,
            json={"member_ids": [str(uuid.uuid4())]},
        )
        assert unknown.status_code == 404
        both = await client.post(
            "/api/v1/members/invitations",
            headers=admin.headers,
            json={"member_ids": [str(pending[0].id)], "all_pending": True},
        )
        assert both.status_code == 422
        forbidden = await client.post(
            "/api/v1/members/invitations", headers=active.headers, json={"all_pending": True}
        )
        assert forbidden.status_code == 403
        listing = await client.get("/api/v1/members?limit=100", headers=admin.headers)
        activated = {i["id"]: i["activated"] for i in listing.json()["items"]}
        assert activated[str(active.id)] is True and activated[str(pending[1].id)] is False
        as_member = await client.get("/api/v1/members?limit=100", headers=active.headers)
        assert {i["activated"] for i in as_member.json()["items"]} == {None}

    async def test_accepting_sets_the_password_verifies_and_signs_in(
        self, client, factory, db, app
    ):
        admin = await factory.member("admin")
        person = await factory.member("member", email="new@example.com", email_verified_at=None)
        await client.post(f"/api/v1/members/{person.id}/invitation", headers=admin.headers)
        [link] = await links_of(db, person.id, LinkPurpose.invitation)
        assert link.expires_at - link.created_at == timedelta(days=14)
        from app.auth.links import token_of

        token = token_of(app.state.settings, link)
        short = await client.post(
            "/api/v1/auth/invitations/accept", json={"token": token, "password": "short"}
        )
        assert short.status_code == 422
        accepted = await client.post(
            "/api/v1/auth/invitations/accept", json={"token": token, "password": NEW_PASSWORD}
        )
        assert accepted.status_code == 200, accepted.text
        headers = {"Authorization": f"Bearer {accepted.json()['access_token']}"}
        me = (await client.get("/api/v1/me", headers=headers)).json()
        assert me["email_verified_at"] is not None and me["activated"] is True
        again = await client.post(
            "/api/v1/auth/invitations/accept", json={"token": token, "password": PASSWORD}
        )
        assert again.status_code == 400 and again.json()["type"] == "/problems/invalid-link"
        assert (
            await login(client, email="new@example.com", password=NEW_PASSWORD)
        ).status_code == 200


class TestFirstAdmin:
    async def test_create_admin_is_idempotent_and_prints_the_link(self, live, engine, app, capsys):
        assert await create_admin_with(app.state.settings, "Root@Example.com", "Root Admin") == 0
        first = capsys.readouterr().out
        assert "Created the admin" in first
        [url] = re.findall(r"https?://\S+/accept-invitation\?token=\S+", first)
        assert await create_admin_with(app.state.settings, "root@example.com", None) == 0
        second = capsys.readouterr().out
        assert "is an admin already" in second and "accept-invitation?token=" in second
        assert await create_admin_with(app.state.settings, "not an address", None) == 2
        token = parse_qs(urlsplit(url).query)["token"][0]
        accepted = await live.post(
            "/api/v1/auth/invitations/accept", json={"token": token, "password": NEW_PASSWORD}
        )
        assert accepted.status_code == 200, accepted.text
        headers = {"Authorization": f"Bearer {accepted.json()['access_token']}"}
        me = (await live.get("/api/v1/me", headers=headers)).json()
        assert sorted(me["roles"]) == ["admin", "member"]
        assert await create_admin_with(app.state.settings, "root@example.com", None) == 0
        assert "has a password" in capsys.readouterr().out
        async with engine.connect() as connection:
            assert (await connection.scalar(select(func.count()).select_from(Member))) == 1


IMPORT = (
    "email,full_name,function,seniority,industry,experience_summary\n"
    "victim@example.com,Vera Victim,CTO,4,Retail,Led a platform team\n"
    "ivan@example.com,Ivan Petrov,CIO,3,Banks,Ran IT\n"
)


class TestSquatting:
    async def test_a_squatter_never_gets_the_imported_application_or_tickets(
        self, client, factory, db, app, mail
    ):
        mailbox, port = mail
        admin = await factory.member("admin")
        await signup(client, email="victim@example.com")  # the squatter, who cannot verify
        squatter = (await login(client, email="victim@example.com")).json()
        squatter_headers = {"Authorization": f"Bearer {squatter['access_token']}"}
        imported = await client.post(
            "/api/v1/applications/import",
            headers={**admin.headers, "content-type": "text/csv"},
            content=IMPORT.encode(),
        )
        assert imported.status_code == 200 and imported.json()["created"] == 2
        # The form's person took the address over: the squatter is out.
        assert (await client.get("/api/v1/me", headers=squatter_headers)).status_code == 401
        assert (await login(client, email="victim@example.com")).status_code == 401
        victim = await member_by_email(db, "victim@example.com")
        assert victim.password_hash is None and victim.full_name == "Vera Victim"
        audit = await db.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "account.unproven_claim_released")
        )
        assert audit == 1

        # Timepad: an order with an unverified address stays a guest's.
        event = await open_event(client, admin)
        unverified = await factory.member(
            "member", email="guest@example.com", email_verified_at=None
        )
        registration = await registrations_service.find_or_add_for_order(
            db, uuid.UUID(event["id"]), email="guest@example.com", name="G", order_id=77
        )
        assert registration is not None and registration.member_id is None
        assert registration.guest_email == "guest@example.com" and unverified.id

        application = (
            await db.execute(select(Application).where(Application.member_id == victim.id))
        ).scalar_one()
        decided = await client.post(
            f"/api/v1/applications/{application.id}/decision",
            headers=admin.headers,
            json={"status": "approved", "reason": "strong candidate"},
        )
        assert decided.status_code == 200, decided.text
        await deliver(app, port)
        [invitation] = [
            m
            for m in messages_to(mailbox, "victim@example.com")
            if m["Subject"].startswith("Ваше место в сообществе")
        ]
        # One e-mail for the approval: the invitation, not also a "sign in" welcome.
        assert not [m for m in mailbox.messages if m["Subject"].startswith("Добро пожаловать")]
        page, token = link_in(invitation)
        assert page == "accept-invitation"
        accepted = await client.post(
            "/api/v1/auth/invitations/accept", json={"token": token, "password": NEW_PASSWORD}
        )
        assert accepted.status_code == 200
        me = await client.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {accepted.json()['access_token']}"}
        )
        assert me.json()["full_name"] == "Vera Victim" and "member" in me.json()["roles"]


class TestSeasonJourney:
    async def test_from_an_empty_database_to_registered_members(self, live, engine, app, capsys):
        """create-admin -> the link from the mail -> a password -> CSV import -> approvals ->
        invitation mails -> each person sets a password, signs in and registers."""
        with smtp_server(smtputf8=True) as (mailbox, port):
            assert (
                await create_admin_with(app.state.settings, "chair@example.com", "Council Chair")
                == 0
            )
            capsys.readouterr()
            await deliver(app, port)
            [welcome] = messages_to(mailbox, "chair@example.com")
            _, token = link_in(welcome)
            tokens = await live.post(
                "/api/v1/auth/invitations/accept", json={"token": token, "password": NEW_PASSWORD}
            )
            assert tokens.status_code == 200, tokens.text
            admin = {"Authorization": f"Bearer {tokens.json()['access_token']}"}

            people = [(f"p{i}@example.com", f"Person {i}") for i in range(5)]
            csv = "email,full_name,function,seniority,industry,experience_summary\n" + "".join(
                f"{email},{name},CTO,3,Retail,Ran things\n" for email, name in people
            )
            imported = await live.post(
                "/api/v1/applications/import",
                headers={**admin, "content-type": "text/csv"},
                content=csv.encode(),
            )
            assert imported.status_code == 200 and imported.json()["created"] == 5
            listing = await live.get("/api/v1/applications?limit=100", headers=admin)
            for item in listing.json()["items"]:
                decided = await live.post(
                    f"/api/v1/applications/{item['id']}/decision",
                    headers=admin,
                    json={"status": "approved", "reason": "the council agreed"},
                )
                assert decided.status_code == 200, decided.text
            members = await live.get("/api/v1/members?limit=100", headers=admin)
            assert sum(1 for m in members.json()["items"] if m["activated"] is False) == 5
            bulk = await live.post(
                "/api/v1/members/invitations", headers=admin, json={"all_pending": True}
            )
            assert bulk.json()["sent"] == 0  # approval invited them within the hour already

            event = await live.post(
                "/api/v1/events",
                headers=admin,
                json={
                    "title": "Season opener",
                    "venue_name": "Loft",
                    "venue_address": "Moscow",
                    "time_zone": "Europe/Moscow",
                    "seats": 64,
                    "table_size": 8,
                    "starts_at": (datetime.now(UTC) + timedelta(days=20)).isoformat(),
                    "ends_at": (datetime.now(UTC) + timedelta(days=20, hours=4)).isoformat(),
                },
            )
            event_id = event.json()["id"]
            for status in ("published", "registration_open"):
                await live.post(
                    f"/api/v1/events/{event_id}/status", headers=admin, json={"status": status}
                )

            await deliver(app, port)
            for email, _ in people:
                [invitation] = messages_to(mailbox, email)
                page, token = link_in(invitation)
                assert page == "accept-invitation"
                accepted = await live.post(
                    "/api/v1/auth/invitations/accept",
                    json={"token": token, "password": f"{email} password"},
                )
                assert accepted.status_code == 200, accepted.text
                signed_in = await live.post(
                    "/api/v1/auth/login", json={"email": email, "password": f"{email} password"}
                )
                assert signed_in.status_code == 200
                headers = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
                registered = await live.post(
                    f"/api/v1/events/{event_id}/registrations", headers=headers, json={}
                )
                assert registered.status_code == 201, registered.text
        async with engine.connect() as connection:
            unactivated = await connection.scalar(
                select(func.count()).select_from(Member).where(Member.password_hash.is_(None))
            )
            assert unactivated == 0


async def test_require_verified_refuses_unknown_accounts(db):
    with pytest.raises(accounts.EmailUnverified):
        await accounts.require_verified(db, uuid.uuid4())


async def test_tokens_of_an_account_are_only_digests(client, factory, db, app):
    person = await factory.member("member", email_verified_at=None)
    await client.post(
        f"/api/v1/members/{person.id}/invitation", headers=(await factory.member("admin")).headers
    )
    [link] = await links_of(db, person.id, LinkPurpose.invitation)
    from app.auth.links import token_of

    token = token_of(app.state.settings, link)
    stored = [link.token_hash, link.salt, link.state]
    assert token not in stored and all(len(v) in (32, 64) for v in stored)
    assert await db.scalar(select(func.count()).select_from(ApiToken)) == 0
    assert await db.scalar(select(func.count()).select_from(RefreshToken)) == 0


async def test_the_directory_finds_an_address_however_it_is_typed(client, factory):
    admin = await factory.member("admin")
    person = await factory.member("member", email="olga@example.com")
    found = await client.get(
        "/api/v1/members", headers=admin.headers, params={"email": "ＯＬＧＡ@Example.com"}
    )
    assert [m["id"] for m in found.json()["items"]] == [str(person.id)]


def test_a_partners_guest_name_loses_its_hidden_marks():
    from app.integrations.timepad.mapping import parse_order

    order = parse_order(
        {
            "id": 5,
            "event_id": 7,
            "status_raw": "paid",
            "email": "g@example.com",
            "name": "Anna\u202e",
            "surname": "\u200bPetrova",
        }
    )
    assert order.name == "Anna Petrova"


async def test_query_values_refuse_control_and_bidirectional_characters(client, factory):
    """A NUL in a search (PostgreSQL refuses it in text) or a bidi mark is a 422 naming the
    parameter, on every route, as in bodies."""
    admin = await factory.member("admin")
    for value in ("a\x00b", "\u202eadmin", "x\x0cy"):
        response = await client.get(
            "/api/v1/members", headers=admin.headers, params={"q": value, "limit": 5}
        )
        assert response.status_code == 422, value
        assert response.json()["errors"][0]["loc"] == ["query", "q"]
    fine = await client.get("/api/v1/members", headers=admin.headers, params={"q": "Анна"})
    assert fine.status_code == 200
