"""The API conventions: errors, pagination, idempotency, body limit, CORS, request ids,
health probes."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from app.auth.revocations import token_versions
from app.core import idempotency
from app.core.db import create_engine, create_sessionmaker
from app.core.pagination import encode_cursor
from app.main import create_app
from app.models.audit import AuditEntry
from app.models.event import Event
from app.models.idempotency import IdempotencyRecord
from app.models.member import Member
from app.models.token import ApiToken, LoginFailure
from tests.conftest import IS_POSTGRES, make_settings
from tests.events.helpers import EVENT, soon
from tests.problems import assert_problem


class TestErrors:
    async def test_unknown_route_and_method(self, client):
        missing = await client.get("/api/v1/nothing-here")
        assert missing.status_code == 404 and missing.json()["type"] == "/problems/not-found"
        wrong = await client.put("/healthz")
        assert wrong.status_code == 405
        assert wrong.json()["type"] == "/problems/method-not-allowed"

    async def test_405_names_every_method_of_the_path(self, client, factory):
        actor = await factory.member("member")
        response = await client.put("/api/v1/me", headers=actor.headers)
        assert response.status_code == 405
        assert response.headers["allow"] == "DELETE, GET, HEAD, PATCH"

    async def test_body_that_is_not_utf8(self, client):
        response = await client.post(
            "/api/v1/auth/login",
            content=b"Q\x12\xff9",
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 400
        assert response.json()["type"] == "/problems/bad-request"

    async def test_nul_in_strings_is_refused(self, client, db):
        response = await client.post(
            "/api/v1/auth/signup",
            json={"email": "nul@example.com", "password": "long enough\u0000", "full_name": "N"},
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["body", "password"]
        assert await db.scalar(select(func.count()).select_from(Member)) == 0

    async def test_malformed_json(self, client):
        response = await client.post(
            "/api/v1/auth/login", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["type"] == "json_invalid"

    async def test_unexpected_error_is_a_problem_without_traceback(self):
        app = create_app(make_settings())

        @app.get("/boom")
        async def boom() -> None:
            raise RuntimeError("secret internals")

        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/boom", headers={"X-Request-ID": "trace-123"})
        assert response.status_code == 500
        assert_problem(response)
        assert "secret internals" not in response.text and "RuntimeError" not in response.text
        assert response.headers["x-request-id"] == "trace-123"

    async def test_database_down_gives_503(self):
        app = create_app(
            make_settings(
                database_url="postgresql+asyncpg://postgres@127.0.0.1:1/none",
                database_connect_timeout_seconds=1,
            )
        )
        token = app.state.token_codec.issue(uuid.uuid4(), ["member"], 0)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            ready = await client.get("/readyz")
            me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            live = await client.get("/healthz")
            # A creating POST with a key: the idempotency layer reaches the database first.
            create = await client.post(
                "/api/v1/me/tokens",
                json={"name": "script", "scopes": ["read"]},
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "down-1"},
            )
        for response in (ready, me, create):
            assert response.status_code == 503, response.text
            assert_problem(response)
            assert response.headers["retry-after"]
        assert live.status_code == 200
        await app.state.engine.dispose()

    @pytest.mark.parametrize(
        "error",
        [
            asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"),
            asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
            asyncpg.exceptions.AdminShutdownError(
                "terminating connection due to administrator command"
            ),
            asyncpg.exceptions.ConnectionDoesNotExistError(
                "connection was closed in the middle of operation"
            ),
            asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
            ConnectionResetError(104, "Connection reset by peer"),
        ],
        ids=lambda e: type(e).__name__,
    )
    async def test_database_going_away_gives_503_wherever_it_surfaces(self, error):
        """PostgreSQL shutting down, starting up or dropping the connection: 503 with
        Retry-After, whether SQLAlchemy wrapped the driver's error or not, raised in a route
        or in a middleware (outside the route's handlers)."""
        app = create_app(make_settings())

        @app.get("/wrapped")
        async def wrapped() -> None:
            raise DBAPIError("SELECT 1", None, error)  # type: ignore[arg-type]

        @app.get("/bare")
        async def bare() -> None:
            raise error

        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            responses = [
                await client.get(path, headers={"X-Request-ID": "down-2"})
                for path in ("/wrapped", "/bare")
            ]
        for response in responses:
            assert response.status_code == 503, response.text
            assert_problem(response)
            assert response.headers["retry-after"]
            assert response.headers["x-request-id"] == "down-2"
        await app.state.engine.dispose()

    async def test_a_broken_statement_stays_500(self):
        app = create_app(make_settings())

        @app.get("/bug")
        async def bug() -> None:
            raise DBAPIError(
                "SELECT nope",
                None,
                asyncpg.exceptions.UndefinedColumnError("column nope does not exist"),
            )

        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/bug")
        assert response.status_code == 500
        assert_problem(response)
        await app.state.engine.dispose()

    @pytest.mark.skipif(not IS_POSTGRES, reason="the connection pool is PostgreSQL's")
    async def test_exhausted_pool_gives_503_not_500(self):
        app = create_app(make_settings(database_pool_size=1, database_pool_timeout_seconds=0.2))
        token = app.state.token_codec.issue(uuid.uuid4(), ["member"], 0)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with app.state.engine.connect() as held:  # the pool's only connection
            await held.exec_driver_sql("SELECT 1")
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.get(
                    "/api/v1/me", headers={"Authorization": f"Bearer {token}"}
                )
        assert response.status_code == 503, response.text
        assert_problem(response)
        assert response.headers["retry-after"]
        assert response.json()["detail"] == "Every database connection is busy; retry shortly."
        await app.state.engine.dispose()


class TestPagination:
    @pytest.mark.parametrize("limit", ["0", "101", "1000000000", "-1", "ten"])
    async def test_limit_out_of_range(self, client, factory, limit):
        viewer = await factory.member("member")
        response = await client.get(
            "/api/v1/members", headers=viewer.headers, params={"limit": limit}
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["query", "limit"]

    @pytest.mark.parametrize("sort", ["full_name", "-full_name", "created_at", "-created_at"])
    async def test_pages_cover_everything_once_in_order(self, client, factory, sort):
        viewer = await factory.member("member", full_name="Same Name")
        for _ in range(6):
            await factory.member("member", full_name="Same Name")  # ties broken by id
        seen: list[dict] = []
        cursor = None
        while True:
            params = {"limit": 3, "sort": sort, **({"cursor": cursor} if cursor else {})}
            body = (
                await client.get("/api/v1/members", headers=viewer.headers, params=params)
            ).json()
            seen.extend(body["items"])
            cursor = body["next_cursor"]
            if cursor is None:
                break
        ids = [item["id"] for item in seen]
        assert len(ids) == 7 and len(set(ids)) == 7
        everything = (
            await client.get(
                "/api/v1/members", headers=viewer.headers, params={"limit": 100, "sort": sort}
            )
        ).json()["items"]
        assert [item["id"] for item in everything] == ids

    @pytest.mark.parametrize("cursor", ["garbage", "eyJzIjoiZnVsbF9uYW1lIn0", "x" * 600])
    async def test_bad_cursor(self, client, factory, cursor):
        viewer = await factory.member("member")
        response = await client.get(
            "/api/v1/members", headers=viewer.headers, params={"cursor": cursor}
        )
        assert response.status_code == 422

    @pytest.mark.parametrize(
        "values",
        [
            ["2026-01-01T00:00:00", str(uuid.UUID(int=0))],
            ["not a time", str(uuid.UUID(int=0))],
            ["2026-01-01T00:00:00+00:00", "not-a-uuid"],
            [{"a": 1}, []],
        ],
    )
    async def test_forged_cursor_values(self, client, factory, values):
        viewer = await factory.member("member")
        cursor = encode_cursor("created_at", values)
        response = await client.get(
            "/api/v1/members",
            headers=viewer.headers,
            params={"cursor": cursor, "sort": "created_at"},
        )
        assert response.status_code == 422
        assert response.json()["type"] == "/problems/invalid-cursor"

    async def test_cursor_of_another_sort_is_refused(self, client, factory):
        viewer = await factory.member("member")
        await factory.member("member")
        first = (
            await client.get("/api/v1/members", headers=viewer.headers, params={"limit": 1})
        ).json()
        response = await client.get(
            "/api/v1/members",
            headers=viewer.headers,
            params={"cursor": first["next_cursor"], "sort": "created_at"},
        )
        assert response.status_code == 422
        assert response.json()["type"] == "/problems/invalid-cursor"

    async def test_constant_statement_count(self, client, factory, count_statements, monkeypatch):
        viewer = await factory.member("admin")
        for _ in range(30):
            await factory.member("member", company="Acme", expertise_tags=["a", "b"])
        # The caller's token version is cached from the first request on: warm it, and keep it
        # warm however slow the machine.
        monkeypatch.setattr(token_versions, "trust_seconds", 60.0)
        await client.get("/api/v1/me", headers=viewer.headers)
        counts = []
        for limit in (2, 30):
            count_statements.clear()
            response = await client.get(
                "/api/v1/members", headers=viewer.headers, params={"limit": limit}
            )
            assert len(response.json()["items"]) == limit
            counts.append(
                len(
                    [
                        s
                        for s in count_statements
                        if not s.startswith("SAVEPOINT") and not s.startswith("RELEASE")
                    ]
                )
            )
        assert counts[0] == counts[1], counts


class TestIdempotency:
    async def test_replay_mismatch_and_scope(self, client, factory, db):
        actor = await factory.member("member")
        headers = {**actor.headers, "Idempotency-Key": "key-1"}
        body = {"name": "script", "scopes": ["read"]}
        first = await client.post("/api/v1/me/tokens", headers=headers, json=body)
        again = await client.post("/api/v1/me/tokens", headers=headers, json=body)
        assert first.status_code == 201
        assert again.status_code == 409  # the answer held the token's secret: not kept
        assert again.headers["idempotent-replayed"] == "true"
        assert await db.scalar(select(func.count()).select_from(ApiToken)) == 1

        other_body = await client.post(
            "/api/v1/me/tokens", headers=headers, json={"name": "other", "scopes": ["read"]}
        )
        assert other_body.status_code == 422
        assert await db.scalar(select(func.count()).select_from(ApiToken)) == 1

        # Another caller with the same key is a different request.
        someone = await factory.member("member")
        theirs = await client.post(
            "/api/v1/me/tokens", json=body, headers={**someone.headers, "Idempotency-Key": "key-1"}
        )
        assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]
        assert await db.scalar(select(func.count()).select_from(ApiToken)) == 2

    async def test_in_flight_is_409(self, client, factory, db):
        actor = await factory.member("member")
        body = b'{"name":"script","scopes":["read"]}'
        import hashlib

        path = "/api/v1/me/tokens"
        db.add(
            IdempotencyRecord(
                caller=f"member:{actor.id}|POST|{path}",
                key="busy",
                request_hash=hashlib.sha256(path.encode() + b"\n" + body).hexdigest(),
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            )
        )
        await db.flush()
        response = await client.post(
            path,
            content=body,
            headers={
                **actor.headers,
                "Idempotency-Key": "busy",
                "content-type": "application/json",
            },
        )
        assert response.status_code == 409
        assert await db.scalar(select(func.count()).select_from(ApiToken)) == 0

    async def test_in_flight_past_its_lease_runs_again(self, client, factory, db, app):
        """The request that took the key died (its process killed, or its outcome lost with
        the database): after the lease a retry runs, and its outcome is kept as usual."""
        actor = await factory.member("member")
        body = b'{"name":"script","scopes":["read"]}'
        import hashlib

        path = "/api/v1/me/tokens"
        lease = app.state.settings.idempotency_lease_seconds
        started = datetime.now(UTC) - timedelta(seconds=lease + 1)
        db.add(
            IdempotencyRecord(
                caller=f"member:{actor.id}|POST|{path}",
                key="orphan",
                request_hash=hashlib.sha256(path.encode() + b"\n" + body).hexdigest(),
                created_at=started,
                expires_at=started + timedelta(hours=24),
            )
        )
        await db.flush()
        headers = {**actor.headers, "Idempotency-Key": "orphan", "content-type": "application/json"}
        retried = await client.post(path, content=body, headers=headers)
        replayed = await client.post(path, content=body, headers=headers)
        assert retried.status_code == 201 and "idempotent-replayed" not in retried.headers
        assert replayed.headers["idempotent-replayed"] == "true"
        assert replayed.status_code == 409  # the kept outcome of an answer holding a secret
        assert await db.scalar(select(func.count()).select_from(ApiToken)) == 1
        assert await db.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1

    async def test_outcome_is_stored_before_the_response_leaves(self, app, factory, db):
        """A client holding an answer gets the same one on a retry, even when the process
        dies right after sending it: the outcome is stored before the first byte leaves."""
        actor = await factory.member("member")
        stored_at_start: list[int | None] = []

        async def spy(scope, receive, send):  # type: ignore[no-untyped-def]
            async def watching(message):  # type: ignore[no-untyped-def]
                if message["type"] == "http.response.start" and scope["type"] == "http":
                    record = await db.scalar(select(IdempotencyRecord))
                    stored_at_start.append(record.response_status if record else None)
                await send(message)

            await app(scope, receive, watching)

        transport = httpx.ASGITransport(app=spy, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post(
                "/api/v1/me/tokens",
                json={"name": "script", "scopes": ["read"]},
                headers={**actor.headers, "Idempotency-Key": "stored-first"},
            )
        assert response.status_code == 201
        assert stored_at_start == [409]  # the secret's answer is kept as a 409, before it leaves

    async def test_storing_the_outcome_without_a_database_does_not_raise(self):
        """The response has left when the outcome is stored: a database gone by then is
        logged, not raised (the record stays in flight until its lease ends)."""
        engine = create_engine(
            make_settings(
                database_url="postgresql+asyncpg://postgres@127.0.0.1:1/none",
                database_connect_timeout_seconds=1,
            )
        )
        maker = create_sessionmaker(engine)
        await idempotency.finish(maker, uuid.uuid4(), 201, {}, b"{}")
        await idempotency.abandon(maker, uuid.uuid4())
        await engine.dispose()

    async def test_server_errors_are_not_kept(self, app, db):
        flaky = create_app(make_settings())
        flaky.state.sessionmaker = app.state.sessionmaker  # join the test's transaction
        calls = []

        @flaky.post("/flaky", status_code=201)
        async def create_something() -> dict[str, int]:
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("first attempt fails")
            return {"attempt": len(calls)}

        transport = httpx.ASGITransport(app=flaky, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            headers = {"Idempotency-Key": "retry-me"}
            failed = await client.post("/flaky", headers=headers, json={})
            retried = await client.post("/flaky", headers=headers, json={})
            replayed = await client.post("/flaky", headers=headers, json={})
        assert failed.status_code == 500
        assert retried.status_code == 201 and retried.json() == {"attempt": 2}
        assert replayed.json() == {"attempt": 2} and len(calls) == 2
        await flaky.state.engine.dispose()

    async def test_client_errors_are_replayed(self, client, factory, db):
        actor = await factory.member("member")
        headers = {**actor.headers, "Idempotency-Key": "k2"}
        bad = {"name": "x", "scopes": ["admin"]}
        first = await client.post("/api/v1/me/tokens", headers=headers, json=bad)
        second = await client.post("/api/v1/me/tokens", headers=headers, json=bad)
        assert first.status_code == second.status_code == 422
        assert second.headers.get("idempotent-replayed") == "true"

    async def test_anonymous_signup_and_bad_keys(self, client, db):
        body = {"email": "idem@example.com", "password": "a long password", "full_name": "Idem"}
        first = await client.post(
            "/api/v1/auth/signup", json=body, headers={"Idempotency-Key": "signup-1"}
        )
        again = await client.post(
            "/api/v1/auth/signup", json=body, headers={"Idempotency-Key": "signup-1"}
        )
        assert first.status_code == again.status_code == 202
        assert first.json() == again.json()
        assert again.headers.get("idempotent-replayed") == "true"
        assert await db.scalar(select(func.count()).select_from(Member)) == 1
        too_long = await client.post(
            "/api/v1/auth/signup", json=body, headers={"Idempotency-Key": "k" * 256}
        )
        assert too_long.status_code == 400

    async def test_a_replay_goes_only_to_a_caller_still_signed_in(self, client, factory, db):
        """The stored answer is the caller's only while their credential still is: after
        logout-all (the access token's version moves on) or an API token's revocation, a
        replay is a 401, as the route itself would answer."""
        admin = await factory.member("admin")
        event = {**EVENT, **soon()}
        headers = {**admin.headers, "Idempotency-Key": "event-1"}
        first = await client.post("/api/v1/events", headers=headers, json=event)
        replayed = await client.post("/api/v1/events", headers=headers, json=event)
        assert first.status_code == replayed.status_code == 201
        assert replayed.json() == first.json()
        assert replayed.headers["idempotent-replayed"] == "true"

        pat = (
            await client.post(
                "/api/v1/me/tokens",
                headers=admin.headers,
                json={"name": "script", "scopes": ["read", "write", "admin"]},
            )
        ).json()
        by_pat = {"Authorization": f"Bearer {pat['token']}", "Idempotency-Key": "event-2"}
        made = await client.post("/api/v1/events", headers=by_pat, json=event)
        assert made.status_code == 201
        revoked = await client.delete(f"/api/v1/me/tokens/{pat['id']}", headers=admin.headers)
        assert revoked.status_code == 204
        refused = await client.post("/api/v1/events", headers=by_pat, json=event)
        assert refused.status_code == 401 and "idempotent-replayed" not in refused.headers
        assert_problem(refused)
        assert refused.json()["type"] == "/problems/unauthorized"
        assert made.json()["id"] not in refused.text

        assert (await client.post("/api/v1/auth/logout-all", headers=admin.headers)).status_code
        refused = await client.post("/api/v1/events", headers=headers, json=event)
        assert refused.status_code == 401 and "idempotent-replayed" not in refused.headers
        assert_problem(refused)
        assert refused.json()["type"] == "/problems/unauthorized"
        assert refused.headers["www-authenticate"] == "Bearer"
        assert first.json()["id"] not in refused.text
        assert await db.scalar(select(func.count()).select_from(Event)) == 2

    async def test_a_revoked_access_token_gets_no_replay_of_a_token_secret(
        self, client, factory, db
    ):
        """The attack: a token is created with a key, the account logs out everywhere, and
        the old access token asks again with the same key and body."""
        actor = await factory.member("member")
        headers = {**actor.headers, "Idempotency-Key": "pat-1"}
        body = {"name": "script", "scopes": ["read"]}
        created = await client.post("/api/v1/me/tokens", headers=headers, json=body)
        assert created.status_code == 201
        secret = created.json()["token"]
        assert (await client.post("/api/v1/auth/logout-all", headers=actor.headers)).status_code
        again = await client.post("/api/v1/me/tokens", headers=headers, json=body)
        assert again.status_code == 401
        assert_problem(again)
        assert again.json()["type"] == "/problems/unauthorized"
        assert secret not in again.text

    async def test_an_answer_holding_a_secret_is_not_kept(self, client, factory, db):
        """The secret lives only in the first answer: the record holds a 409 that says the
        thing exists and where it is listed, so a retry neither shows the secret again nor
        creates a second one."""
        admin = await factory.member("admin")
        for path, body, field, listing in (
            ("/api/v1/me/tokens", {"name": "script", "scopes": ["read"]}, "token", "me/tokens"),
            ("/api/v1/webhooks", {"url": "https://example.com/h"}, "secret", "webhooks"),
        ):
            headers = {**admin.headers, "Idempotency-Key": f"secret-{field}"}
            first = await client.post(path, headers=headers, json=body)
            assert first.status_code == 201 and first.json()[field]
            secret = first.json()[field]
            again = await client.post(path, headers=headers, json=body)
            assert again.status_code == 409 and again.headers["idempotent-replayed"] == "true"
            assert_problem(again)
            assert again.json()["type"] == "/problems/idempotent-answer-not-kept"
            assert f"GET /api/v1/{listing} lists it" in again.json()["detail"]
            assert secret not in again.text
            stored = (
                await db.execute(
                    select(IdempotencyRecord.response_body).where(
                        IdempotencyRecord.key == f"secret-{field}"
                    )
                )
            ).scalar_one()
            assert secret.encode() not in stored
        assert await db.scalar(select(func.count()).select_from(ApiToken)) == 1
        listed = await client.get("/api/v1/me/tokens", headers=admin.headers)
        assert [t["name"] for t in listed.json()] == ["script"]

    async def test_expired_record_runs_again(self, client, factory, db):
        actor = await factory.member("member")
        headers = {**actor.headers, "Idempotency-Key": "old"}
        body = {"name": "script", "scopes": ["read"]}
        await client.post("/api/v1/me/tokens", headers=headers, json=body)
        record = (await db.execute(select(IdempotencyRecord))).scalar_one()
        record.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        await db.flush()
        again = await client.post("/api/v1/me/tokens", headers=headers, json=body)
        assert again.status_code == 201 and "idempotent-replayed" not in again.headers
        assert await db.scalar(select(func.count()).select_from(ApiToken)) == 2


class TestBodyLimit:
    async def test_declared_length_over_limit_is_413_before_auth(self, client, app):
        size = app.state.settings.max_body_bytes + 1
        response = await client.patch(
            "/api/v1/me", content=b"x" * size, headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        assert response.json()["type"] == "/problems/payload-too-large"

    async def test_chunked_body_is_counted(self, client, app):
        limit = app.state.settings.max_body_bytes

        async def chunks():
            for _ in range(limit // 65536 + 2):
                yield b"x" * 65536

        response = await client.post(
            "/api/v1/auth/login", content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413

    async def test_body_under_limit_passes(self, client):
        response = await client.post(
            "/api/v1/auth/login", json={"email": "a@example.com", "password": "x" * 50}
        )
        assert response.status_code == 401


class TestHeaders:
    async def test_request_id(self, client):
        generated = await client.get("/healthz")
        assert len(generated.headers["x-request-id"]) == 32
        echoed = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
        assert echoed.headers["x-request-id"] == "abc-123"
        hostile = await client.get("/healthz", headers={"X-Request-ID": "a b\tc" * 30})
        assert hostile.headers["x-request-id"] != "a b\tc" * 30
        error = await client.get("/api/v1/me", headers={"X-Request-ID": "err-1"})
        assert error.headers["x-request-id"] == "err-1"
        assert error.json()["request_id"] == "err-1"

    async def test_cors(self, client):
        allowed = await client.options(
            "/api/v1/members",
            headers={
                "Origin": "https://app.digital-leaders.test",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "Authorization",
            },
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://app.digital-leaders.test"
        other = await client.get("/healthz", headers={"Origin": "https://evil.test"})
        assert "access-control-allow-origin" not in other.headers

    async def test_health(self, client):
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert (await client.get("/readyz")).json() == {"status": "ok"}


CSP = "default-src 'none'; frame-ancestors 'none'"


class TestSecurityHeaders:
    async def test_every_answer_says_nosniff_under_a_closed_policy(self, client, factory, app):
        actor = await factory.member("member")
        answers = [
            await client.get("/api/v1/me", headers=actor.headers),  # 200
            await client.get("/api/v1/me"),  # 401 from the route
            await client.get("/api/v1/nothing-here"),  # 404
            await client.get("/healthz"),
            await client.get("/api/v1/cases/export", headers=actor.headers),  # text/csv
            await client.patch(  # 413 from the body limit, before any route
                "/api/v1/me",
                headers={**actor.headers, "content-length": "99999999"},
                content=b"x",
            ),
            await client.options(
                "/api/v1/me",
                headers={
                    "Origin": "https://evil.example",
                    "Access-Control-Request-Method": "GET",
                },
            ),
        ]
        for answer in answers:
            where = f"{answer.request.method} {answer.request.url.path} {answer.status_code}"
            assert answer.headers.get_list("x-content-type-options") == ["nosniff"], where
            assert answer.headers.get_list("content-security-policy") == [CSP], where
            assert "server" not in answer.headers, where
        assert "cache-control" not in answers[0].headers  # only credentials are not-stored

    async def test_the_docs_go_without_the_policy(self):
        documented = create_app(make_settings(docs_enabled=True))
        transport = httpx.ASGITransport(app=documented)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for path in ("/docs", "/openapi.json"):
                answer = await client.get(path)
                assert answer.status_code == 200, path
                assert answer.headers["x-content-type-options"] == "nosniff"
                assert "content-security-policy" not in answer.headers, path
        await documented.state.engine.dispose()

    async def test_answers_that_carry_credentials_are_not_stored(self, client, factory, db, app):
        from app.auth.links import token_of
        from app.models.token import LinkPurpose
        from tests.auth.test_identity import NEW_PASSWORD, links_of
        from tests.auth.test_router import PASSWORD, login, signup

        assert (await signup(client)).status_code == 202
        logged_in = await login(client)
        refused = await login(client, password="not the password")
        refreshed = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": logged_in.json()["refresh_token"]}
        )
        admin = await factory.member("admin")
        person = await factory.member("member", email="new@example.com", email_verified_at=None)
        await client.post(f"/api/v1/members/{person.id}/invitation", headers=admin.headers)
        [link] = await links_of(db, person.id, LinkPurpose.invitation)
        accepted = await client.post(
            "/api/v1/auth/invitations/accept",
            json={"token": token_of(app.state.settings, link), "password": NEW_PASSWORD},
        )
        created = await client.post(
            "/api/v1/me/tokens",
            headers={**admin.headers, "Idempotency-Key": "no-store"},
            json={"name": "script", "scopes": ["read"]},
        )
        assert [logged_in.status_code, refreshed.status_code] == [200, 200]
        assert [accepted.status_code, created.status_code] == [200, 201]
        for answer in (logged_in, refused, refreshed, accepted, created):
            assert answer.headers.get_list("cache-control") == ["no-store"], answer.request.url
            assert answer.headers["x-content-type-options"] == "nosniff"
        assert PASSWORD  # the sign-up's password is the one login used

    async def test_a_bearer_header_of_another_shape_is_refused(self, client, factory):
        actor = await factory.member("member")
        token = actor.token
        assert (await client.get("/api/v1/me", headers=actor.headers)).status_code == 200
        ok = await client.get("/api/v1/me", headers={"Authorization": f"bearer {token}"})
        assert ok.status_code == 200  # the scheme is case-insensitive (RFC 9110)
        for value in (
            f"Bearer  {token}",
            f"Bearer {token} ",
            f"Bearer\t{token}",
            f" Bearer {token}",
        ):
            answer = await client.get("/api/v1/me", headers={"Authorization": value})
            assert answer.status_code == 401, repr(value)
            assert_problem(answer)
        # A creating POST too, where the idempotency layer reads the header first.
        answer = await client.post(
            "/api/v1/me/tokens",
            headers={"Authorization": f"Bearer  {token}", "Idempotency-Key": "spaces"},
            json={"name": "script", "scopes": ["read"]},
        )
        assert answer.status_code == 401

    async def test_ids_in_another_spelling_are_refused(self, client, factory):
        admin = await factory.member("admin")
        plain = str(admin.id)
        for spelling in (
            "{" + plain + "}",
            "%7B" + plain + "%7D",
            "urn:uuid:" + plain,
            plain.replace("-", ""),
            plain + " ",
        ):
            answer = await client.get(f"/api/v1/members/{spelling}", headers=admin.headers)
            assert answer.status_code == 422, spelling
            assert_problem(answer)
            query = await client.get(
                "/api/v1/cases", params={"event_id": spelling}, headers=admin.headers
            )
            assert query.status_code == 422, spelling
        upper = await client.get(f"/api/v1/members/{plain.upper()}", headers=admin.headers)
        assert upper.status_code == 200 and upper.json()["id"] == plain
        assert (await client.get(f"/api/v1/members/{plain}", headers=admin.headers)).json()

    def test_the_openapi_ids_stay_format_uuid(self, app):
        parameter = next(
            p
            for p in app.openapi()["paths"]["/api/v1/members/{member_id}"]["get"]["parameters"]
            if p["name"] == "member_id"
        )
        assert parameter["schema"] == {"type": "string", "format": "uuid", "title": "Member Id"}

    def test_uvicorn_sends_no_server_header_wherever_it_is_started(self):
        root = Path(__file__).resolve().parents[2]
        [command] = [
            line
            for line in (root / "Dockerfile").read_text().splitlines()
            if line.startswith("CMD")
        ]
        assert "--no-server-header" in command and "uvicorn" in command
        for path in ("bench/run.py", "bench/faults.py"):
            source = (root / path).read_text()
            assert source.count('"--no-server-header"') == source.count('"uvicorn")'), path
            assert '"--no-server-header"' in source, path
        assert "--no-server-header" in (root / "Makefile").read_text()


class TestProxyTrust:
    """What docs/operations.md ("Proxy trust") says, shown with uvicorn's own proxy-headers
    middleware around the app, trusting 10.0.0.2 as the image trusts 127.0.0.1."""

    @staticmethod
    def behind(app, peer: str) -> httpx.AsyncClient:
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        proxied = ProxyHeadersMiddleware(app, trusted_hosts="10.0.0.2")
        transport = httpx.ASGITransport(app=proxied, client=(peer, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://t")

    async def test_forwarded_for_counts_only_from_a_trusted_peer(self, app, db):
        settings = app.state.settings
        app.state.settings = settings.model_copy(update={"login_max_failures_per_address": 2})
        try:
            await self._count_forwarded_for(app, db)
        finally:
            app.state.settings = settings

    async def _count_forwarded_for(self, app, db) -> None:

        async def fail(client, forwarded_for: str, n: int) -> int:
            answer = await client.post(
                "/api/v1/auth/login",
                json={"email": f"nobody{n}@example.com", "password": "wrong password"},
                headers={"X-Forwarded-For": forwarded_for},
            )
            return answer.status_code

        async with self.behind(app, "10.0.0.2") as balancer:
            # The balancer appends the peer it saw: the right-most untrusted entry counts.
            assert [await fail(balancer, "1.1.1.1, 203.0.113.7", n) for n in range(3)] == [
                401,
                401,
                429,
            ]
            # A new forged address per attempt: the per-address limit is dodged.
            assert await fail(balancer, "203.0.113.8", 3) == 401
        async with self.behind(app, "198.51.100.1") as direct:
            # From an untrusted peer the header is ignored: the peer itself is counted.
            assert await fail(direct, "203.0.113.9", 4) == 401
        keys = (await db.execute(select(LoginFailure.key))).scalars().all()
        addresses = sorted(k for k in keys if k.startswith("address:"))
        assert addresses == [
            "address:198.51.100.1",
            "address:203.0.113.7",
            "address:203.0.113.7",
            "address:203.0.113.8",
        ]

    async def test_the_audit_log_records_what_the_trusted_peer_forwarded(self, app, db, factory):
        admin = await factory.member("admin")
        async with self.behind(app, "10.0.0.2") as balancer:
            created = await balancer.post(
                "/api/v1/events",
                headers={**admin.headers, "X-Forwarded-For": "192.0.2.55"},
                json={**EVENT, **soon()},
            )
        assert created.status_code == 201
        entry = (
            await db.execute(select(AuditEntry).where(AuditEntry.action == "event.created"))
        ).scalar_one()
        assert entry.client_address == "192.0.2.55"

    def test_the_operations_manual_says_so(self):
        manual = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
        section = manual.split("## Proxy trust", 1)[1].split("\n## ", 1)[0]
        for fact in (
            "FORWARDED_ALLOW_IPS",
            "X-Forwarded-For",
            "X-Forwarded-Proto",
            "--proxy-headers",
            "dodges the per-address login limit",
            "audit",
        ):
            assert fact in section, fact
