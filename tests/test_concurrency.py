"""Races, proven on PostgreSQL with separate connections and committed data."""

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.core.db import create_read_sessionmaker
from app.models.member import Member, MemberRole
from app.models.token import ApiToken
from tests.conftest import IS_POSTGRES

pytestmark = pytest.mark.skipif(not IS_POSTGRES, reason="concurrency is proven on PostgreSQL")
CALLERS = 12
# Tables the migrations fill and the tests never change: emptying them would break later tests.
SEEDED = {"alembic_version", "decision_rule", "rubric_criterion"}


@pytest.fixture
async def live(app, engine):
    """The app on real, committing sessions; every table emptied afterwards."""
    app.state.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    app.state.read_sessionmaker = create_read_sessionmaker(engine)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client
    async with engine.begin() as connection:
        tables = ", ".join(
            name for name in (await connection.run_sync(
                lambda c: c.dialect.get_table_names(c))) if name not in SEEDED)
        await connection.execute(text(f"TRUNCATE {tables} CASCADE"))


async def _member(app, engine, *roles):
    maker = async_sessionmaker(engine, expire_on_commit=False)
    async with maker() as session:
        email = f"race-{uuid.uuid4().hex[:8]}@example.com"
        member = Member(email=email, email_normalized=email,
                        password_hash=await app.state.password_hasher.hash("a long password"))
        session.add(member)
        await session.flush()
        session.add_all(MemberRole(member_id=member.id, role=r) for r in roles or ["member"])
        await session.commit()
    token = app.state.token_codec.issue(member.id, list(roles or ["member"]), 0)
    return member, {"Authorization": f"Bearer {token}"}


async def test_one_refresh_token_rotates_once(live, app, engine):
    member, _ = await _member(app, engine)
    login = await live.post("/api/v1/auth/login",
                            json={"email": member.email, "password": "a long password"})
    refresh_token = login.json()["refresh_token"]
    responses = await asyncio.gather(*(
        live.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})
        for _ in range(CALLERS)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [401] * (CALLERS - 1), statuses


async def test_same_email_signs_up_once(live, engine):
    body = {"email": "same@example.com", "password": "a long password", "full_name": "Same"}
    responses = await asyncio.gather(*(live.post("/api/v1/auth/signup", json=body)
                                       for _ in range(CALLERS)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (CALLERS - 1), statuses
    async with engine.connect() as connection:
        count = await connection.scalar(select(func.count()).select_from(Member).where(
            Member.email_normalized == "same@example.com"))
    assert count == 1


async def test_idempotency_key_creates_once(live, app, engine):
    member, headers = await _member(app, engine)
    headers = {**headers, "Idempotency-Key": "race-key"}
    responses = await asyncio.gather(*(
        live.post("/api/v1/me/tokens", headers=headers, json={"name": "s", "scopes": ["read"]})
        for _ in range(CALLERS)))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409} and statuses.count(201) >= 1, statuses
    created_ids = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created_ids) == 1  # replays carry the same token
    async with engine.connect() as connection:
        count = await connection.scalar(select(func.count()).select_from(ApiToken).where(
            ApiToken.member_id == member.id))
    assert count == 1
