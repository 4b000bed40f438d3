"""`dl login` / `logout` / `whoami`, profiles and the environment, exit codes, `dl tokens`."""

import json
import stat
import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.cli import config
from app.models.token import ApiToken, RefreshToken
from tests.cli.conftest import PASSWORD


async def _rows(engine, model, **where):
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        query = select(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return list((await session.execute(query)).scalars())


def _config_file(dl) -> dict:
    return json.loads((dl.config_home / config.APP_DIR / config.FILE_NAME).read_text())


async def test_login_asks_creates_a_token_and_stores_it_for_the_profile(dl, admin, engine):
    member, _ = admin
    result = await dl(
        "login", "--url", dl.url, url="", token="", input=f"{member.email}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "Logged in to" in result.stdout and "default" in result.stdout

    path = dl.config_home / config.APP_DIR / config.FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    stored = _config_file(dl)["profiles"]["default"]
    assert stored["url"] == dl.url and stored["email"] == member.email
    assert stored["token"].startswith("dl_pat_")

    # The token exists on the server with every scope an admin may hold; the login session
    # used to create it was logged out at once, so only the personal token remains.
    [token] = await _rows(engine, ApiToken, member_id=member.id)
    assert str(token.id) == stored["token_id"]
    assert sorted(token.scopes) == ["admin", "read", "write"]
    sessions = await _rows(engine, RefreshToken, member_id=member.id)
    assert sessions and all(s.revoked_at is not None for s in sessions)

    # Without DL_URL / DL_TOKEN the stored profile is used.
    who = await dl("whoami", url="", token="")
    assert who.exit_code == 0, who.stderr
    assert member.email in who.stdout and dl.url in who.stdout


async def test_profiles_are_separate_and_the_environment_wins(dl, admin, app, engine):
    member, _ = admin
    result = await dl(
        "--profile",
        "staging",
        "login",
        "--url",
        dl.url,
        "--email",
        member.email,
        "--password",
        PASSWORD,
        url="",
        token="",
    )
    assert result.exit_code == 0, result.stderr
    assert set(_config_file(dl)["profiles"]) == {"staging"}

    missing = await dl("whoami", url="", token="")  # the default profile was never stored
    assert missing.exit_code == 2
    assert "Not logged in (profile 'default')" in missing.stderr

    staging = await dl("whoami", url="", token="", env={"DL_PROFILE": "staging"})
    assert staging.exit_code == 0 and member.email in staging.stdout

    # DL_URL / DL_TOKEN override the profile: here the profile's token with a dead URL fails,
    # while the environment's URL reaches the server.
    config_env = {"DL_PROFILE": "staging"}
    dead = await dl("whoami", url="http://127.0.0.1:9", token="", env=config_env)
    assert dead.exit_code == 1 and "Cannot reach the API" in dead.stderr
    ok = await dl("whoami", token="", env=config_env)
    assert ok.exit_code == 0


async def test_login_with_an_existing_token_stores_it_without_a_password(dl, admin):
    member, _ = admin
    result = await dl("login", "--url", dl.url, "--token", dl.token, "--json", url="", token="")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["email"] == member.email and "admin" in summary["roles"]
    assert _config_file(dl)["profiles"]["default"]["token"] == dl.token


async def test_wrong_password_is_an_api_error_and_nothing_is_stored(dl, admin):
    member, _ = admin
    result = await dl(
        "login",
        "--url",
        dl.url,
        "--email",
        member.email,
        "--password",
        "not the password",
        url="",
        token="",
    )
    assert result.exit_code == 1
    assert "Invalid e-mail or password" in result.stderr
    assert not (dl.config_home / config.APP_DIR / config.FILE_NAME).exists()


async def test_logout_revoke_revokes_the_token_and_forgets_the_profile(dl, admin, served):
    member, _ = admin
    await dl(
        "login", "--url", dl.url, "--email", member.email, "--password", PASSWORD, url="", token=""
    )
    token = _config_file(dl)["profiles"]["default"]["token"]
    result = await dl("logout", "--revoke", url="", token="", env={"DL_PASSWORD": PASSWORD})
    assert result.exit_code == 0, result.stderr
    assert _config_file(dl)["profiles"] == {}
    async with httpx.AsyncClient(base_url=served) as client:
        refused = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401


async def test_exit_codes_and_problem_output(dl):
    missing = await dl("members", "show", str(uuid.uuid4()))
    assert missing.exit_code == 1
    assert "Error (404): Not found" in missing.stderr
    assert missing.stdout == ""

    as_json = await dl("members", "show", str(uuid.uuid4()), "--json")
    assert as_json.exit_code == 1
    problem = json.loads(as_json.stderr)
    assert problem["status"] == 404 and problem["type"].endswith("/not-found")

    invalid = await dl("members", "list", "--seniority", "9")
    assert invalid.exit_code == 2  # refused before any request
    unknown = await dl("members", "list", "--no-such-option")
    assert unknown.exit_code == 2

    # A validation error from the API lists the fields.
    bad = await dl(
        "events",
        "create",
        "--title",
        "x",
        "--starts-at",
        "2027-03-01T15:00:00",
        "--ends-at",
        "2027-03-01T19:00:00Z",
        "--seats",
        "5",
    )
    assert bad.exit_code == 1
    assert "Request validation failed" in bad.stderr and "body.starts_at" in bad.stderr

    bad_token = await dl("members", "list", token="dl_pat_" + "x" * 43)
    assert bad_token.exit_code == 1 and "(401)" in bad_token.stderr


async def test_tokens_create_list_revoke(dl, admin, engine, served):
    member, _ = admin
    env = {"DL_PASSWORD": PASSWORD}
    # The profile remembers the e-mail; tokens commands log in with the password each time.
    await dl(
        "login", "--url", dl.url, "--email", member.email, "--password", PASSWORD, url="", token=""
    )

    created = await dl(
        "tokens",
        "create",
        "weekly export",
        "--scope",
        "read",
        "--expires-days",
        "30",
        url="",
        token="",
        env=env,
    )
    assert created.exit_code == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("dl_pat_")
    async with httpx.AsyncClient(base_url=served) as client:
        me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
        assert me.status_code == 200 and me.json()["email"] == member.email
        # A read token may not write.
        write = await client.post(
            "/api/v1/events", json={}, headers={"Authorization": f"Bearer {secret}"}
        )
        assert write.status_code == 403

    listed = await dl.json("tokens", "list", url="", token="", env=env)
    weekly = next(t for t in listed if t["name"] == "weekly export")
    assert weekly["scopes"] == ["read"] and weekly["expires_at"] is not None
    assert "token" not in weekly

    revoked = await dl("tokens", "revoke", weekly["id"], url="", token="", env=env)
    assert revoked.exit_code == 0, revoked.stderr
    [row] = await _rows(engine, ApiToken, id=uuid.UUID(weekly["id"]))
    assert row.revoked_at is not None
    async with httpx.AsyncClient(base_url=served) as client:
        me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 401

    again = await dl("tokens", "revoke", str(uuid.uuid4()), url="", token="", env=env)
    assert again.exit_code == 1 and "(404)" in again.stderr
    bad_scope = await dl("tokens", "create", "x", "--scope", "root", url="", token="", env=env)
    assert bad_scope.exit_code == 2
