"""On the embedded SQLite database, a CRM sync waiting 10 s for the portal holds no lock: signed
Timepad webhooks, logins, admin writes and 200 GETs that write are all answered meanwhile,
none with 503, while a writer keeps the database busy besides."""

import asyncio
import random
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.core.db import autocommit_twin
from app.core.security import API_TOKEN_PREFIX, new_api_token, token_digest
from app.integrations.bitrix24.channel import CrmChannel
from app.models.crm import CrmLink
from app.models.token import ApiToken, LoginFailure
from app.models.webhook import Delivery
from app.worker.relay import Worker
from tests.conftest import IS_POSTGRES, TIMEPAD_SECRET, committed_member, make_settings
from tests.integrations.bitrix24.conftest import make_client
from tests.integrations.timepad.fake import body_of, order, signature

pytestmark = pytest.mark.skipif(IS_POSTGRES, reason="the single-writer database is SQLite")

HOLD_SECONDS = 10
GETS = 200


async def _tokens(engine, member_id: uuid.UUID, count: int) -> list[str]:
    """Personal access tokens never used yet: each one's first use writes ``last_used_at``."""
    raws = [new_api_token() for _ in range(count)]
    async with async_sessionmaker(engine)() as session:
        session.add_all(
            ApiToken(
                member_id=member_id,
                name=f"probe {i}",
                token_hash=token_digest(raw),
                prefix=raw[: len(API_TOKEN_PREFIX) + 4],
                scopes=["read"],
                created_at=datetime.now(UTC),
            )
            for i, raw in enumerate(raws)
        )
        await session.commit()
    return raws


async def test_a_held_portal_answer_blocks_nobody(live, app, engine, clock, fake):
    admin, admin_headers = await committed_member(app, engine, "admin")
    member, member_headers = await committed_member(app, engine, "member")
    raws = await _tokens(engine, member.id, GETS)
    changed = await live.patch("/api/v1/me", headers=member_headers, json={"city": "Kazan"})
    assert changed.status_code == 200, changed.text

    entered = asyncio.Event()

    async def held_portal(request: httpx.Request) -> httpx.Response:
        entered.set()
        await asyncio.sleep(HOLD_SECONDS)
        return fake.handle(request)

    settings = make_settings(worker_concurrency=1)
    async with httpx.AsyncClient(transport=httpx.MockTransport(held_portal)) as http:
        channel = CrmChannel(
            autocommit_twin(app.state.sessionmaker),
            make_client(http, clock),
            settings.bitrix24_lead_statuses,
            settings.bitrix24_deal_stages,
        )
        worker = Worker(app.state.sessionmaker, settings, [channel], rng=random.Random(3))
        delivering = asyncio.create_task(worker.run_once())
        await asyncio.wait_for(entered.wait(), HOLD_SECONDS)

        busy = True

        async def other_writer() -> int:
            """The rest of the worker: short write transactions, one after another."""
            writes = 0
            async with async_sessionmaker(engine)() as session:
                while busy:
                    session.add(LoginFailure(key="probe:busy", occurred_at=datetime.now(UTC)))
                    await session.commit()
                    writes += 1
                    await asyncio.sleep(0)
                await session.execute(delete(LoginFailure).where(LoginFailure.key == "probe:busy"))
                await session.commit()
            return writes

        writer = asyncio.create_task(other_writer())
        webhook = body_of(order(900001, 424242, "guest@example.com", "paid"))
        answers = await asyncio.gather(
            live.post(
                "/api/v1/integrations/timepad/webhook",
                content=webhook,
                headers={
                    "content-type": "application/json",
                    "x-hub-signature": signature(TIMEPAD_SECRET, webhook),
                },
            ),
            live.post(
                "/api/v1/auth/login",
                json={"email": admin.email, "password": "a long password"},
            ),
            live.put(
                "/api/v1/companies/aliases",
                headers=admin_headers,
                json={"aliases": [{"alias": "Сбер", "company": "Сбербанк"}]},
            ),
        )
        reads = await asyncio.gather(
            *(live.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}) for raw in raws)
        )
        still_held = not delivering.done()
        busy = False
        writes = await writer
        await asyncio.wait_for(delivering, HOLD_SECONDS * 2)

    webhook_answer, login, aliases = answers
    assert webhook_answer.status_code in (200, 202), webhook_answer.text
    assert login.status_code == 200, login.text
    assert aliases.status_code == 200, aliases.text
    assert [r.status_code for r in reads] == [200] * GETS
    assert still_held, "everything above was answered while the portal still held its answer"
    assert writes > 0
    async with async_sessionmaker(engine)() as session:
        touched = await session.scalar(
            select(func.count())
            .select_from(ApiToken)
            .where(ApiToken.member_id == member.id, ApiToken.last_used_at.is_not(None))
        )
        assert touched == GETS
        [delivery] = (await session.execute(select(Delivery))).scalars().all()
        assert delivery.status == "succeeded", delivery.last_error
        assert await session.scalar(select(func.count()).select_from(CrmLink)) == 1
