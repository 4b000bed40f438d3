"""Races of the Bitrix24 sync, proven on PostgreSQL with separate, committing connections."""

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.core.db import create_autocommit_sessionmaker
from app.integrations.bitrix24 import service
from app.models.crm import CrmLink, CrmSyncRun
from app.models.member import Member, MemberRole
from tests.conftest import IS_POSTGRES, make_settings, truncate_all
from tests.integrations.bitrix24.conftest import make_client
from tests.integrations.bitrix24.fake import PORTAL_URL, FakeBitrix24

pytestmark = pytest.mark.skipif(not IS_POSTGRES, reason="concurrency is proven on PostgreSQL")


@pytest.fixture
async def committed(engine):
    """Sessions that really commit; every table emptied afterwards."""
    try:
        yield async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await truncate_all(engine)


@pytest.fixture
def syncing(engine):
    """The sessions the worker syncs in: autocommit, nothing held while Bitrix24 answers."""
    return create_autocommit_sessionmaker(engine)


async def _member(maker, *roles: str, **fields) -> Member:
    async with maker() as session:
        email = f"race-{uuid.uuid4().hex[:8]}@example.com"
        member = Member(email=email, email_normalized=email, full_name="Race Member", **fields)
        session.add(member)
        await session.flush()
        session.add_all(MemberRole(member_id=member.id, role=r) for r in roles or ["member"])
        await session.commit()
    return member


def slow_transport(fake: FakeBitrix24) -> httpx.MockTransport:
    """Every answer takes a moment, so concurrent syncs really overlap."""

    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.02)
        return fake.handle(request)

    return httpx.MockTransport(handler)


async def test_concurrent_syncs_of_one_member_create_one_contact(committed, syncing, engine, clock):
    member = await _member(committed, email_visibility="members")
    fake = FakeBitrix24(clock=clock)

    async def sync() -> str:
        async with httpx.AsyncClient(transport=slow_transport(fake)) as http:
            async with syncing() as session:
                outcome = await service.sync_member(session, make_client(http, clock), member.id)
                await session.commit()
        return outcome

    outcomes = await asyncio.gather(*(sync() for _ in range(4)))
    assert sorted(outcomes) == ["created", "unchanged", "unchanged", "unchanged"]
    assert len(fake.contacts) == 1
    async with engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(CrmLink)) == 1


async def test_full_sync_and_a_worker_do_not_duplicate(committed, syncing, engine, clock):
    members = [await _member(committed, email_visibility="members") for _ in range(30)]
    fake = FakeBitrix24(clock=clock)

    async def full() -> None:
        async with httpx.AsyncClient(transport=slow_transport(fake)) as http:
            async with syncing() as session:
                await service.full_sync(session, make_client(http, clock))
                await session.commit()

    async def single(member_id: uuid.UUID) -> None:
        async with httpx.AsyncClient(transport=slow_transport(fake)) as http:
            async with syncing() as session:
                await service.sync_member(session, make_client(http, clock), member_id)
                await session.commit()

    await asyncio.gather(full(), *(single(m.id) for m in members[::7]))
    assert len(fake.contacts) == 30
    async with engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(CrmLink)) == 30


async def test_simultaneous_requests_make_one_run(committed, app, engine):
    admin = await _member(committed, "admin")
    token = app.state.token_codec.issue(admin.id, ["admin"], 0)
    original = (app.state.sessionmaker, app.state.read_sessionmaker, app.state.settings)
    app.state.sessionmaker = committed
    app.state.read_sessionmaker = create_autocommit_sessionmaker(engine)
    app.state.settings = make_settings(bitrix24_webhook_url=PORTAL_URL)
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            responses = await asyncio.gather(
                *(
                    client.post(
                        "/api/v1/integrations/bitrix24/sync",
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    for _ in range(8)
                )
            )
    finally:
        app.state.sessionmaker, app.state.read_sessionmaker, app.state.settings = original
    assert {r.status_code for r in responses} == {202}, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    async with engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(CrmSyncRun)) == 1


async def test_api_is_not_blocked_while_the_sync_waits_for_bitrix24(committed, app, engine, clock):
    """A sync stuck on a slow or limited portal holds nothing the API needs: the member it is
    syncing edits their profile meanwhile."""
    member = await _member(committed, job_title_visibility="members", job_title="CTO")
    token = app.state.token_codec.issue(member.id, ["member"], 0)
    headers = {"Authorization": f"Bearer {token}"}
    fake = FakeBitrix24(clock=clock)
    entered, release = asyncio.Event(), asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("crm.contact.add.json"):
            entered.set()
            await release.wait()  # the portal hangs on the write
        return fake.handle(request)

    async def sync() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            async with committed() as session:
                await service.full_sync(
                    session, make_client(http, clock), checkpoint=session.commit
                )
                await session.commit()

    original = (app.state.sessionmaker, app.state.read_sessionmaker)
    app.state.sessionmaker = committed
    app.state.read_sessionmaker = create_autocommit_sessionmaker(engine)
    task = asyncio.create_task(sync())
    try:
        await asyncio.wait_for(entered.wait(), 10)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
            etag = (await api.get("/api/v1/me", headers=headers)).headers["ETag"]
            # A deadlock detector, not a latency measurement: blocked would never finish.
            response = await asyncio.wait_for(
                api.patch(
                    "/api/v1/me", headers={**headers, "If-Match": etag}, json={"job_title": "CIO"}
                ),
                10,
            )
        assert response.status_code == 200 and response.json()["job_title"] == "CIO"
        assert not task.done()
    finally:
        app.state.sessionmaker, app.state.read_sessionmaker = original
        release.set()
        await asyncio.wait_for(task, 10)
    assert [c["POST"] for c in fake.contacts.values()] == ["CTO"]  # read before the edit
    async with engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(CrmLink)) == 1
