"""Races, proven on PostgreSQL with separate connections and committed data."""

import asyncio

import pytest
from sqlalchemy import func, select

from app.models.member import Member
from app.models.token import AccountLink, ApiToken
from tests.conftest import IS_POSTGRES, committed_member

pytestmark = pytest.mark.skipif(not IS_POSTGRES, reason="concurrency is proven on PostgreSQL")
CALLERS = 12


async def test_one_refresh_token_rotates_once(live, app, engine):
    member, _ = await committed_member(app, engine)
    login = await live.post(
        "/api/v1/auth/login", json={"email": member.email, "password": "a long password"}
    )
    refresh_token = login.json()["refresh_token"]
    responses = await asyncio.gather(
        *(
            live.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})
            for _ in range(CALLERS)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [401] * (CALLERS - 1), statuses


async def test_same_email_signs_up_once(live, engine):
    body = {"email": "same@example.com", "password": "a long password", "full_name": "Same"}
    responses = await asyncio.gather(
        *(live.post("/api/v1/auth/signup", json=body) for _ in range(CALLERS))
    )
    # The same answer for all (no enumeration), one account; the rest are told "taken" by mail.
    assert {r.status_code for r in responses} == {202}, [r.text for r in responses]
    assert len({r.text for r in responses}) == 1
    async with engine.connect() as connection:
        count = await connection.scalar(
            select(func.count())
            .select_from(Member)
            .where(Member.email_normalized == "same@example.com")
        )
    assert count == 1


async def test_idempotency_key_creates_once(live, app, engine):
    member, headers = await committed_member(app, engine)
    headers = {**headers, "Idempotency-Key": "race-key"}
    responses = await asyncio.gather(
        *(
            live.post("/api/v1/me/tokens", headers=headers, json={"name": "s", "scopes": ["read"]})
            for _ in range(CALLERS)
        )
    )
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409} and statuses.count(201) >= 1, statuses
    created_ids = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created_ids) == 1  # replays carry the same token
    async with engine.connect() as connection:
        count = await connection.scalar(
            select(func.count()).select_from(ApiToken).where(ApiToken.member_id == member.id)
        )
    assert count == 1


async def test_an_invitation_is_accepted_once(live, app, engine):
    """Ten people (or one with ten tabs) accept one invitation at once: exactly one sets the
    password and signs in; the others get invalid-link, and the password is the winner's."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from app.auth import accounts, links
    from app.models.token import LinkPurpose

    maker = async_sessionmaker(engine, expire_on_commit=False)
    settings = app.state.settings
    async with maker() as session:
        result = await accounts.ensure_admin(
            session, settings, email="race-admin@example.com", full_name="Race"
        )
        await session.commit()
    assert result.invitation is not None
    token = links.token_of(settings, result.invitation)
    passwords = [f"candidate password {i}" for i in range(10)]
    responses = await asyncio.gather(
        *(
            live.post("/api/v1/auth/invitations/accept", json={"token": token, "password": p})
            for p in passwords
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [400] * 9, [r.text for r in responses]
    [winner] = [p for p, r in zip(passwords, responses, strict=True) if r.status_code == 200]
    loser = next(p for p in passwords if p != winner)
    for password, status in ((winner, 200), (loser, 401)):
        login = await live.post(
            "/api/v1/auth/login", json={"email": "race-admin@example.com", "password": password}
        )
        assert login.status_code == status
    async with engine.connect() as connection:
        used = await connection.scalar(
            select(func.count())
            .select_from(AccountLink)
            .where(AccountLink.purpose == LinkPurpose.invitation, AccountLink.used_at.is_not(None))
        )
    assert used == 1
