"""Faults that must lose nothing, on PostgreSQL with committed data and real processes:
many workers at once, a receiver down then back, a worker killed or stopped mid-delivery,
a receiver that hangs."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.core.http import outbound_client
from app.models.outbox import OutboxEvent
from app.models.webhook import Delivery, WebhookSubscription
from app.webhooks import signing
from app.webhooks.channel import WebhookChannel
from app.worker.relay import Worker
from tests.conftest import (
    DATABASE_URL,
    IS_POSTGRES,
    TEST_SECRET,
    committed_member,
    make_settings,
)
from tests.receivers import Receiver, serve
from tests.webhooks.conftest import verify

pytestmark = pytest.mark.skipif(not IS_POSTGRES, reason="faults are proven on PostgreSQL")
# A guard against a hung test, not a performance assertion.
GIVE_UP_SECONDS = 180


@pytest.fixture
def factory_live(app, engine):
    async def make() -> dict[str, str]:
        _, headers = await committed_member(app, engine)
        return headers

    return make


@pytest.fixture
async def maker(live, engine):
    return async_sessionmaker(engine, expire_on_commit=False)


async def add_subscription(maker, url: str) -> WebhookSubscription:
    async with maker() as session:
        subscription = WebhookSubscription(url=url, secret=signing.new_secret())
        session.add(subscription)
        await session.commit()
    return subscription


async def add_events(maker, count: int) -> None:
    now = datetime.now(UTC)
    rows = [
        {
            "id": uuid.uuid4(),
            "type": "member.updated",
            "type_version": 1,
            "occurred_at": now,
            "subject_type": "member",
            "subject_id": uuid.uuid4(),
            "data": {
                "id": str(uuid.uuid4()),
                "version": 1,
                "fields": ["city"],
                "privacy_changed": False,
            },
        }
        for _ in range(count)
    ]
    async with maker() as session:
        for start in range(0, count, 1000):
            await session.execute(insert(OutboxEvent), rows[start : start + 1000])
        await session.commit()


async def open_work(maker) -> int:
    async with maker() as session:
        undispatched = await session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.dispatched_at.is_(None))
        )
        pending = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.status == "pending")
        )
    return int(undispatched or 0) + int(pending or 0)


async def until_drained(maker) -> None:
    async with asyncio.timeout(GIVE_UP_SECONDS):
        while await open_work(maker):  # noqa: ASYNC110 - the state is in the database
            await asyncio.sleep(0.2)


def worker_for(maker, client, **overrides) -> Worker:
    settings = make_settings(worker_idle_seconds=0.05, **overrides)
    return Worker(maker, settings, [WebhookChannel(client)])


async def test_four_workers_drain_ten_thousand_events(maker):
    receiver = Receiver()
    async with serve(receiver.app()) as base, outbound_client(["127.0.0.1"], 15) as client:
        subscription = await add_subscription(maker, f"{base}/hook")
        await add_events(maker, 10_000)
        workers = [
            worker_for(maker, client, worker_batch_size=100, worker_concurrency=16)
            for _ in range(4)
        ]
        tasks = [asyncio.create_task(w.run()) for w in workers]
        try:
            await until_drained(maker)
        finally:
            for w in workers:
                w.stop()
            await asyncio.gather(*tasks)

    ids = Counter(a.headers["webhook-id"] for a in receiver.arrivals)
    async with maker() as session:
        events = set((await session.execute(select(OutboxEvent.id))).scalars())
        statuses = Counter((await session.execute(select(Delivery.status))).scalars())
        leased = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.lease_token.is_not(None))
        )
    assert {f"msg_{e.hex}" for e in events} == set(ids)  # none lost
    assert statuses == {"succeeded": 10_000}  # one delivery per event, none stuck
    assert leased == 0
    # Nobody crashed, so nothing was sent twice (bench/ reports the rate under load).
    assert sum(ids.values()) == len(ids)
    verify(subscription.secret, receiver.arrivals[0])


async def test_receiver_down_then_back_gets_everything(maker):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    subscription = await add_subscription(maker, f"http://127.0.0.1:{port}/hook")
    await add_events(maker, 20)
    async with outbound_client(["127.0.0.1"], 5) as client:
        worker = worker_for(maker, client)
        await worker.run_once()
        async with maker() as session:
            errors = set((await session.execute(select(Delivery.last_error))).scalars())
            assert all(e and e.startswith("ConnectError") for e in errors), errors

            receiver = Receiver()
            async with serve_on(receiver, port):
                await session.execute(update(Delivery).values(next_attempt_at=datetime.now(UTC)))
                await session.commit()
                while await worker.run_once():
                    pass
    ids = Counter(a.headers["webhook-id"] for a in receiver.arrivals)
    assert len(ids) == 20 and set(ids.values()) == {1}
    for arrival in receiver.arrivals:
        verify(subscription.secret, arrival)


def serve_on(receiver: Receiver, port: int):
    """The receiver on a given port (the one that was down)."""
    import contextlib

    import uvicorn

    @contextlib.asynccontextmanager
    async def running():
        server = uvicorn.Server(
            uvicorn.Config(
                receiver.app(),
                host="127.0.0.1",
                port=port,
                log_level="warning",
                lifespan="off",
                timeout_graceful_shutdown=1,
            )
        )
        task = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no started event
            await asyncio.sleep(0.01)
        try:
            yield
        finally:
            server.should_exit = True
            await task

    return running()


def spawn_worker(**env: str) -> subprocess.Popen:
    environment = {
        **os.environ,
        "DL_DATABASE_URL": DATABASE_URL,
        "DL_JWT_SECRET": TEST_SECRET,
        "DL_ENVIRONMENT": "test",
        "DL_WEBHOOK_ALLOWED_HTTP_HOSTS": '["127.0.0.1"]',
        "DL_WORKER_IDLE_SECONDS": "0.1",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "app.worker"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def first_arrival(arrived: asyncio.Event) -> None:
    async with asyncio.timeout(60):
        await arrived.wait()


async def test_killed_worker_delivery_happens_again_with_the_same_id(maker):
    arrived = asyncio.Event()
    receiver = Receiver(delay=30, on_arrival=lambda _: arrived.set())
    async with serve(receiver.app()) as base:
        subscription = await add_subscription(maker, f"{base}/hook")
        await add_events(maker, 1)
        process = spawn_worker(DL_WEBHOOK_TIMEOUT_SECONDS="40", DL_WORKER_LEASE_SECONDS="60")
        try:
            await first_arrival(arrived)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
        async with maker() as session:
            [delivery] = (await session.execute(select(Delivery))).scalars().all()
            assert delivery.status == "pending" and delivery.lease_token is not None
            # Time passes: the dead worker's lease runs out.
            await session.execute(
                update(Delivery).values(lease_until=datetime.now(UTC) - timedelta(seconds=1))
            )
            await session.commit()
        receiver.delay = 0
        async with outbound_client(["127.0.0.1"], 5) as client:
            assert await worker_for(maker, client).run_once() == 1
    first, second = receiver.arrivals
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    verify(subscription.secret, first)
    verify(subscription.secret, second)
    async with maker() as session:
        [delivery] = (await session.execute(select(Delivery))).scalars().all()
        assert delivery.status == "succeeded"


async def test_sigterm_finishes_what_it_holds(maker):
    arrived = asyncio.Event()
    receiver = Receiver(delay=2, on_arrival=lambda _: arrived.set())
    async with serve(receiver.app()) as base:
        await add_subscription(maker, f"{base}/hook")
        await add_events(maker, 1)
        process = spawn_worker(DL_WEBHOOK_TIMEOUT_SECONDS="10", DL_WORKER_LEASE_SECONDS="20")
        await first_arrival(arrived)
        process.send_signal(signal.SIGTERM)
        returncode = await asyncio.to_thread(process.wait, 40)
        assert returncode == 0, process.stderr.read().decode()[-2000:] if process.stderr else ""
    async with maker() as session:
        [delivery] = (await session.execute(select(Delivery))).scalars().all()
    assert (delivery.status, delivery.lease_token, delivery.attempts) == ("succeeded", None, 1)
    assert len(receiver.arrivals) == 1


async def test_a_hanging_receiver_slows_nobody(maker, live, factory_live):
    slow_in_flight = asyncio.Event()
    slow = Receiver(delay=30, on_arrival=lambda _: slow_in_flight.set())
    all_fast_arrived = asyncio.Event()
    fast = Receiver()
    fast.on_arrival = lambda _: len(fast.arrivals) == 10 and all_fast_arrived.set()
    async with (
        serve(slow.app()) as slow_base,
        serve(fast.app()) as fast_base,
        outbound_client(["127.0.0.1"], 3) as client,
    ):
        await add_subscription(maker, f"{slow_base}/hook")
        await add_subscription(maker, f"{fast_base}/hook")
        await add_events(maker, 10)
        worker = worker_for(maker, client, webhook_timeout_seconds=3, worker_lease_seconds=10)
        round_ = asyncio.create_task(worker.run_once())
        await slow_in_flight.wait()
        # While the slow receiver hangs: every fast delivery arrives, and the API answers.
        async with asyncio.timeout(GIVE_UP_SECONDS):
            await all_fast_arrived.wait()
        actor = await factory_live()
        response = await live.get("/api/v1/me", headers=actor)
        assert response.status_code == 200
        assert not round_.done()  # the slow attempts are still waiting for their timeout
        await round_
    async with maker() as session:
        errors = Counter((await session.execute(select(Delivery.last_error))).scalars())
    assert errors == {None: 10, "timeout": 10}


async def outcomes(maker) -> list[str | None]:
    async with maker() as session:
        return list(
            (
                await session.execute(select(Delivery.last_error).where(Delivery.attempts > 0))
            ).scalars()
        )


async def test_a_hanging_receiver_holds_back_neither_later_events_nor_other_slots(maker, live):
    """The running worker is a pipeline: events created while one receiver hangs reach the
    other receiver at once, and the hanging one holds no more than its share of slots."""
    release = asyncio.Event()
    slow = Receiver(hold=release)
    fast = Receiver()
    first_batch, all_fast = asyncio.Event(), asyncio.Event()

    def fast_arrived(_: object) -> None:
        if len(fast.arrivals) == 5:
            first_batch.set()
        if len(fast.arrivals) == 10:
            all_fast.set()

    fast.on_arrival = fast_arrived
    async with (
        serve(slow.app()) as slow_base,
        serve(fast.app()) as fast_base,
        outbound_client(["127.0.0.1"], 30) as client,
    ):
        await add_subscription(maker, f"{slow_base}/hook")
        await add_subscription(maker, f"{fast_base}/hook")
        await add_events(maker, 5)
        worker = worker_for(
            maker,
            client,
            worker_concurrency=4,
            worker_concurrency_per_subscription=2,
            worker_lease_seconds=60,
        )
        running = asyncio.create_task(worker.run())
        try:
            async with asyncio.timeout(GIVE_UP_SECONDS):
                await first_batch.wait()
                await add_events(maker, 5)  # while the slow receiver still hangs
                await all_fast.wait()
                # An arrival precedes its recorded outcome: wait for the ten outcomes.
                while len(recorded := await outcomes(maker)) < 10:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            assert len(slow.arrivals) == 2  # its share of the slots, not all four
            assert recorded == [None] * 10  # the fast ones; the slow ones have none yet
            release.set()
            await until_drained(maker)
        finally:
            release.set()
            worker.stop()
            await running
    assert len(slow.arrivals) == 10 and len(fast.arrivals) == 10
