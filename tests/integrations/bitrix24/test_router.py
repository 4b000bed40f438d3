"""The admin API: sync and reconciliation requests, performed by the worker, and reports."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.integrations.bitrix24 import runs, service
from app.models.audit import AuditEntry
from app.models.base import utcnow
from app.models.crm import CrmSyncRun
from tests.conftest import make_settings
from tests.integrations.bitrix24.fake import PORTAL_URL, Outage

SYNC = "/api/v1/integrations/bitrix24/sync"
RECONCILIATION = "/api/v1/integrations/bitrix24/reconciliation"


@pytest.fixture
def enabled(app):
    """The app with a portal configured, for this test only."""
    original = app.state.settings
    app.state.settings = make_settings(bitrix24_webhook_url=PORTAL_URL)
    yield
    app.state.settings = original


class TestRequestSync:
    async def test_admin_request_is_recorded_and_joined(self, client, factory, db, enabled):
        admin = await factory.member("admin")
        response = await client.post(SYNC, headers=admin.headers)
        assert response.status_code == 202, response.text
        body = response.json()
        assert (body["kind"], body["status"], body["attempts"], body["report"]) == (
            "full_sync",
            "requested",
            0,
            None,
        )
        assert body["requested_by"] == str(admin.id)
        assert response.headers["Location"] == f"{SYNC}/{body['id']}"
        run = await db.get(CrmSyncRun, uuid.UUID(body["id"]))
        assert run is not None and run.status == "requested"
        entry = (
            await db.execute(
                select(AuditEntry).where(AuditEntry.action == "bitrix24.full_sync_requested")
            )
        ).scalar_one()
        assert (entry.actor_id, entry.target_id) == (admin.id, run.id)
        # A second click while the first waits joins it.
        again = await client.post(SYNC, headers=admin.headers)
        assert again.status_code == 202 and again.json()["id"] == body["id"]
        assert len((await db.execute(select(CrmSyncRun))).scalars().all()) == 1

    async def test_disabled_integration_is_a_conflict(self, client, factory, db):
        admin = await factory.member("admin")
        response = await client.post(SYNC, headers=admin.headers)
        assert response.status_code == 409
        assert response.json()["type"] == "/problems/bitrix24-disabled"
        assert (await db.execute(select(CrmSyncRun))).first() is None

    async def test_members_may_not(self, client, factory, db, enabled):
        member = await factory.member("member")
        assert (await client.post(SYNC, headers=member.headers)).status_code == 403
        assert (await client.get(RECONCILIATION, headers=member.headers)).status_code == 403
        assert (await db.execute(select(CrmSyncRun))).first() is None


class TestWorkerPerformsRuns:
    async def test_full_sync_report_after_the_worker_ran(
        self, client, factory, db, crm, fake, enabled
    ):
        admin = await factory.member("admin")
        await factory.member(full_name="Ann Lee", job_title="CTO", job_title_visibility="members")
        run_id = (await client.post(SYNC, headers=admin.headers)).json()["id"]
        leases = []

        async def checkpoint() -> None:
            # The worker commits here; the first time, the claim: not due again for a while.
            stored = await db.get(CrmSyncRun, uuid.UUID(run_id))
            leases.append((stored.attempts, stored.next_attempt_at - now))

        now = utcnow()
        run = await runs.perform_due_run(db, crm, now, checkpoint=checkpoint)
        assert run is not None and str(run.id) == run_id
        assert leases == [(1, runs.RUN_LEASE), (1, runs.RUN_LEASE)]  # claim, one round
        response = await client.get(f"{SYNC}/{run_id}", headers=admin.headers)
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "done" and body["attempts"] == 1 and body["error"] is None
        assert body["report"]["kind"] == "full_sync"
        assert (body["report"]["members_seen"], body["report"]["created"]) == (2, 2)
        assert {c["NAME"] for c in fake.contacts.values()} == {"Ann", "Person"}
        assert await runs.perform_due_run(db, crm, utcnow()) is None  # nothing left

    async def test_crm_limit_reschedules_the_run(
        self, client, factory, db, crm, fake, clock, enabled
    ):
        admin = await factory.member("admin")
        run_id = (await client.post(SYNC, headers=admin.headers)).json()["id"]
        fake.outage = Outage(until=clock.now + 3600)
        now = utcnow()
        run = await runs.perform_due_run(db, crm, now)
        assert run is not None
        assert (run.status, run.attempts, run.error) == (
            "requested",
            1,
            "QUERY_LIMIT_EXCEEDED (HTTP 503): Too many requests",
        )
        assert now < run.next_attempt_at <= now + timedelta(seconds=60)
        assert await runs.perform_due_run(db, crm, now) is None  # not due yet
        fake.outage = None
        run = await runs.perform_due_run(db, crm, run.next_attempt_at)
        assert run is not None and run.status == "done" and str(run.id) == run_id
        assert run.report["created"] == 1

    async def test_reconciliation_round_trip(self, client, factory, db, crm, fake, enabled):
        admin = await factory.member("admin")
        response = await client.get(RECONCILIATION, headers=admin.headers)
        assert response.status_code == 404
        await service.full_sync(db, crm)
        fake.seed(NAME="Stray", ORIGINATOR_ID="digital-leaders", ORIGIN_ID=str(uuid.uuid4()))
        requested = await client.post(RECONCILIATION, headers=admin.headers)
        assert requested.status_code == 202
        assert (await client.get(RECONCILIATION, headers=admin.headers)).json()["status"] == (
            "requested"
        )
        await runs.perform_due_run(db, crm, utcnow())
        body = (await client.get(RECONCILIATION, headers=admin.headers)).json()
        assert body["id"] == requested.json()["id"] and body["status"] == "done"
        report = body["report"]
        assert report["kind"] == "reconcile"
        assert (report["members"], report["in_sync"], report["missing_here_count"]) == (1, 1, 1)
        assert report["missing_here"] == [max(fake.contacts)]

    async def test_unknown_run_is_not_found(self, client, factory):
        admin = await factory.member("admin")
        response = await client.get(f"{SYNC}/{uuid.uuid4()}", headers=admin.headers)
        assert response.status_code == 404
        assert (await client.get(f"{SYNC}/not-a-uuid", headers=admin.headers)).status_code == 422


async def test_scheduled_job_does_nothing_when_disabled(db, factory):
    db.add(CrmSyncRun(kind="full_sync"))
    await db.flush()
    await runs.run_requested_syncs(db, make_settings(), utcnow())
    run = (await db.execute(select(CrmSyncRun))).scalar_one()
    assert (run.status, run.attempts) == ("requested", 0)


async def test_admins_see_the_live_syncs_refusals(client, factory, db):
    from datetime import UTC, datetime

    from app.models.outbox import OutboxEvent
    from app.models.webhook import Delivery

    admin = await factory.member("admin")
    member = await factory.member("member")
    event = OutboxEvent(
        type="member.updated",
        type_version=1,
        subject_type="member",
        subject_id=member.id,
        data={"id": str(member.id), "version": 1, "fields": ["city"], "privacy_changed": False},
    )
    db.add(event)
    await db.flush()
    db.add(
        Delivery(
            event_id=event.id,
            channel="crm",
            status="failed",
            attempts=1,
            last_attempt_at=datetime.now(UTC),
            last_error="no code (HTTP 400): Field NAME must be array",
        )
    )
    await db.flush()
    listed = await client.get("/api/v1/integrations/bitrix24/failures", headers=admin.headers)
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert item["subject_id"] == str(member.id) and item["event_type"] == "member.updated"
    assert item["error"] == "no code (HTTP 400): Field NAME must be array"
    refused = await client.get("/api/v1/integrations/bitrix24/failures", headers=member.headers)
    assert refused.status_code == 403
