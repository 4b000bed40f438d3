"""Sign-up, login, refresh rotation, logout, throttling."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from app.models.audit import AuditEntry
from app.models.member import Member, MemberRole
from app.models.token import LoginFailure, RefreshToken
from tests.conftest import outbox_events

PASSWORD = "correct horse battery"


async def signup(client, email="anna@example.com", **extra):
    body = {"email": email, "password": PASSWORD, "full_name": "Anna Petrova", **extra}
    return await client.post("/api/v1/auth/signup", json=body)


async def login(client, email="anna@example.com", password=PASSWORD):
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


class TestSignup:
    async def test_creates_applicant(self, client, db):
        response = await signup(client)
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "accepted"
        tokens = (await login(client)).json()
        me = await client.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        body = me.json()
        assert body["roles"] == ["applicant"]
        assert body["email"] == "anna@example.com" and body["email_verified_at"] is None
        assert body["privacy"] == {
            "company": "nobody",
            "job_title": "nobody",
            "phone": "nobody",
            "email": "nobody",
        }
        member = (await db.execute(select(Member))).scalar_one()
        assert member.password_hash.startswith("$argon2id$")
        assert PASSWORD not in member.password_hash
        audit = (await db.execute(select(AuditEntry))).scalar_one()
        assert audit.action == "account.signed_up" and audit.target_id == member.id

    async def test_email_unique_case_insensitively(self, client, db):
        first = await signup(client)
        response = await signup(client, email="ANNA@Example.com")
        # Taken or not, the same answer; the owner hears of the attempt by e-mail.
        assert first.status_code == response.status_code == 202
        assert first.json() == response.json()
        assert await db.scalar(select(func.count()).select_from(Member)) == 1
        [attempt] = await outbox_events(db, "account.signup_attempted")
        assert attempt.subject_id == (await db.execute(select(Member))).scalar_one().id

    async def test_role_in_body_is_refused_and_changes_nothing(self, client, db):
        response = await signup(client, roles=["admin"])
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["body", "roles"]
        assert await db.scalar(select(func.count()).select_from(Member)) == 0
        assert await db.scalar(select(func.count()).select_from(MemberRole)) == 0

    async def test_weak_and_oversized_inputs(self, client):
        assert (await signup(client, password="short")).status_code == 422
        assert (await signup(client, password="x" * 500)).status_code == 422
        assert (await signup(client, email="not-an-email")).status_code == 422
        assert (await signup(client, full_name="x" * 201)).status_code == 422
        assert (await signup(client, full_name="nul\x00byte")).status_code == 422


class TestLogin:
    async def test_login_me_refresh_rotation(self, client, db):
        await signup(client)
        response = await login(client)
        assert response.status_code == 200, response.text
        tokens = response.json()
        assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 15 * 60
        me = await client.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert me.status_code == 200 and me.json()["full_name"] == "Anna Petrova"
        assert me.headers["etag"].startswith('"')

        stored = (await db.execute(select(RefreshToken))).scalar_one()
        assert stored.token_hash != tokens["refresh_token"]

        rotated = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert rotated.status_code == 200
        new = rotated.json()
        assert new["refresh_token"] != tokens["refresh_token"]

        # The spent token comes back: the family dies, the fresh token too.
        reused = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert reused.status_code == 401
        assert reused.json()["type"] == "/problems/invalid-refresh-token"
        after = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": new["refresh_token"]}
        )
        assert after.status_code == 401
        db.expire_all()
        rows = (await db.execute(select(RefreshToken))).scalars().all()
        assert len(rows) == 2 and all(r.revoked_at is not None for r in rows)

    async def test_wrong_password_and_unknown_email_look_the_same(self, client, db):
        await signup(client)
        wrong = await login(client, password="wrong password!")
        unknown = await login(client, email="nobody@example.com")
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json()["type"] == unknown.json()["type"] == "/problems/invalid-credentials"
        assert wrong.json()["detail"] == unknown.json()["detail"]
        # Both failures were counted, per account and per address, though the calls failed.
        keys = [
            k
            for k in (await db.execute(select(LoginFailure.key))).scalars().all()
            if not k.startswith("link-request:")  # the sign-up's own counting
        ]
        assert sorted(keys) == sorted(
            [
                "account:anna@example.com",
                "address:127.0.0.1",
                "account:nobody@example.com",
                "address:127.0.0.1",
            ]
        )

    async def test_throttled_per_account_with_retry_after(self, client, app):
        await signup(client)
        limit = app.state.settings.login_max_failures_per_account
        for _ in range(limit):
            assert (await login(client, password="wrong password!")).status_code == 401
        blocked = await login(client)  # even the right password waits
        assert blocked.status_code == 429
        assert 0 < int(blocked.headers["retry-after"]) <= app.state.settings.login_window_seconds
        assert blocked.json()["type"] == "/problems/too-many-requests"

    async def test_throttled_per_address(self, client, app, db):
        limit = app.state.settings.login_max_failures_per_address
        now = datetime.now(UTC)
        db.add_all(LoginFailure(key="address:127.0.0.1", occurred_at=now) for _ in range(limit))
        await db.flush()
        await signup(client)
        assert (await login(client)).status_code == 429

    async def test_old_failures_do_not_count(self, client, app, db):
        old = datetime.now(UTC) - timedelta(seconds=app.state.settings.login_window_seconds + 5)
        db.add_all(LoginFailure(key="account:anna@example.com", occurred_at=old) for _ in range(20))
        await db.flush()
        await signup(client)
        assert (await login(client)).status_code == 200

    async def test_success_clears_account_failures(self, client, db):
        await signup(client)
        await login(client, password="wrong password!")
        assert (await login(client)).status_code == 200
        keys = (await db.execute(select(LoginFailure.key))).scalars().all()
        assert [k for k in keys if not k.startswith("link-request:")] == ["address:127.0.0.1"]


class TestLogout:
    async def test_logout_revokes_family(self, client):
        await signup(client)
        tokens = (await login(client)).json()
        response = await client.post(
            "/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}
        )
        assert response.status_code == 204
        again = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert again.status_code == 401

    async def test_logout_all_kills_access_tokens_at_once(self, client):
        await signup(client)
        first = (await login(client)).json()
        second = (await login(client)).json()
        headers = {"Authorization": f"Bearer {first['access_token']}"}
        answer = await client.post("/api/v1/auth/logout-all", headers=headers)
        assert answer.status_code == 200
        assert answer.json() == {"sessions_revoked": 2, "api_tokens_revoked": 0}
        for tokens in (first, second):
            auth = {"Authorization": f"Bearer {tokens['access_token']}"}
            assert (await client.get("/api/v1/me", headers=auth)).status_code == 401
            refreshed = await client.post(
                "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
            )
            assert refreshed.status_code == 401
        assert (await login(client)).status_code == 200

    async def test_password_change_revokes_and_new_password_works(self, client):
        await signup(client)
        tokens = (await login(client)).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        wrong = await client.post(
            "/api/v1/auth/password",
            headers=headers,
            json={"current_password": "nope nope nope", "new_password": "another long passphrase"},
        )
        assert wrong.status_code == 401
        ok = await client.post(
            "/api/v1/auth/password",
            headers=headers,
            json={"current_password": PASSWORD, "new_password": "another long passphrase"},
        )
        assert ok.status_code == 200
        assert ok.json() == {"sessions_revoked": 1, "api_tokens_revoked": 0}
        assert (await client.get("/api/v1/me", headers=headers)).status_code == 401
        assert (await login(client)).status_code == 401
        assert (await login(client, password="another long passphrase")).status_code == 200
