"""GET /metrics: off by default, the token when set, the request counters and the database's
figures read at scrape time, the worker's counters."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from app.main import create_app
from app.models.event import Event, EventStatus
from app.models.inbox import InboxMessage
from app.models.outbox import OutboxEvent
from app.models.token import LoginFailure
from app.worker.schedule import ScheduledJob, run_job
from tests.conftest import make_settings
from tests.problems import assert_problem

TOKEN = "metrics-token-" + "m" * 20


@asynccontextmanager
async def serving(app: Any, db: Any, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A second app with the given settings, on the test's transaction like the first."""
    other = create_app(make_settings(**settings))
    other.state.sessionmaker = other.state.read_sessionmaker = app.state.sessionmaker
    transport = httpx.ASGITransport(app=other, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c
    finally:
        await other.state.engine.dispose()


@pytest.fixture
async def metrics_client(app, db) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(app, db, metrics_enabled=True) as client:
        yield client


async def scrape(client: httpx.AsyncClient, **headers: str) -> dict[tuple[str, tuple], float]:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def sample(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_off_by_default(client):
    response = await client.get("/metrics")
    assert response.status_code == 404
    assert_problem(response)


async def test_requests_are_counted_by_route_template(metrics_client, factory):
    member = await factory.member("member")
    other = await factory.member("member")
    me = {"method": "GET", "route": "/api/v1/me", "status": "200"}
    profile = {"method": "GET", "route": "/api/v1/members/{member_id}", "status": "200"}
    before = await scrape(metrics_client)
    for _ in range(2):
        assert (await metrics_client.get("/api/v1/me", headers=member.headers)).status_code == 200
    response = await metrics_client.get(f"/api/v1/members/{other.id}", headers=member.headers)
    assert response.status_code == 200
    assert (await metrics_client.get("/api/v1/me")).status_code == 401
    after = await scrape(metrics_client)

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew("dl_http_requests_total", **me) == 2
    assert grew("dl_http_requests_total", **profile) == 1
    assert grew("dl_http_requests_total", **{**me, "status": "401"}) == 1
    assert grew("dl_http_request_duration_seconds_count", method="GET", route="/api/v1/me") == 3
    assert grew("dl_http_request_duration_seconds_sum", method="GET", route="/api/v1/me") > 0
    assert not any(str(other.id) in str(labels) for _, labels in after)


async def test_database_figures_are_read_at_scrape_time(metrics_client, factory, db):
    member = await factory.member("member")
    before = await scrape(metrics_client)
    response = await metrics_client.patch(
        "/api/v1/me", headers=member.headers, json={"city": "Kazan"}
    )
    assert response.status_code == 200
    now = datetime.now(UTC)
    event = Event(
        title="Open",
        seats=40,
        seats_held=7,
        starts_at=now + timedelta(days=3),
        ends_at=now + timedelta(days=3, hours=2),
        status=EventStatus.registration_open,
    )
    db.add_all(
        [
            event,
            InboxMessage(source="timepad", dedupe_key="metrics-1", body="{}"),
            LoginFailure(key="account:someone@example.com", occurred_at=now),
            LoginFailure(key="address:203.0.113.9", occurred_at=now),
            LoginFailure(key="address:203.0.113.9", occurred_at=now - timedelta(days=1)),
        ]
    )
    await db.flush()
    after = await scrape(metrics_client)

    pending = await db.scalar(select(func.count()).where(OutboxEvent.dispatched_at.is_(None)))
    assert pending and sample(after, "dl_outbox_pending_events") == pending
    assert sample(after, "dl_outbox_pending_events") > sample(before, "dl_outbox_pending_events")
    assert sample(after, "dl_outbox_oldest_pending_age_seconds") >= 0
    assert sample(after, "dl_timepad_inbox_pending") == 1
    assert sample(after, "dl_login_failures_in_window") == 1
    assert sample(after, "dl_event_seats_held", event_id=str(event.id)) == 7
    assert sample(after, "dl_event_seats", event_id=str(event.id)) == 40


async def test_the_token_is_required_when_set(app, db):
    async with serving(app, db, metrics_enabled=True, metrics_token=TOKEN) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            response = await client.get("/metrics", headers=headers)
            assert response.status_code == 401, headers
            assert_problem(response)
        samples = await scrape(client, Authorization=f"Bearer {TOKEN}")
    assert ("dl_outbox_pending_events", ()) in samples


async def test_metrics_are_not_in_the_contract(app, db):
    async with serving(app, db, metrics_enabled=True) as client:
        document = (await client.get("/openapi.json")).json()
    assert "/metrics" not in document["paths"]


async def test_scheduled_job_runs_are_counted_by_outcome(app, db, settings):
    async def works(session, settings, now):
        return None

    async def fails(session, settings, now):
        raise RuntimeError("boom")

    def runs(job: str, outcome: str) -> float:
        labels = {"job": job, "outcome": outcome}
        return REGISTRY.get_sample_value("dl_scheduled_job_runs_total", labels) or 0.0

    before = (runs("metrics_works", "succeeded"), runs("metrics_fails", "failed"))
    now = datetime.now(UTC)
    for name, function in (("metrics_works", works), ("metrics_fails", fails)):
        job = ScheduledJob(name, timedelta(minutes=1), function)
        await run_job(app.state.sessionmaker, settings, job, now)
    assert (runs("metrics_works", "succeeded"), runs("metrics_fails", "failed")) == (
        before[0] + 1,
        before[1] + 1,
    )
    assert runs("metrics_works", "failed") == 0
