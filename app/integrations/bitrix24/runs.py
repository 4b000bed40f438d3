"""Sync runs: admins ask for a full sync or a reconciliation, the worker performs it.

The CRM is never called while an API request waits: ``request_run`` records the wish (one
pending run per kind), the scheduled job ``run_requested_syncs`` claims a due run with a lease,
performs it through ``service`` and stores the report. When Bitrix24 says "later", the run is
rescheduled for the time it named; what was done so far is kept.
"""

import logging
import uuid
from datetime import datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import audit
from app.core.config import Settings
from app.core.context import RequestContext
from app.core.errors import Conflict, NotFound
from app.integrations.bitrix24 import repository
from app.integrations.bitrix24.client import (
    Bitrix24Client,
    Bitrix24Error,
    Bitrix24RetryLater,
    client_from_settings,
)
from app.integrations.bitrix24.schemas import (
    FullSyncReport,
    ReconcileReport,
    SyncKind,
    SyncRunRead,
)
from app.integrations.bitrix24.service import Checkpoint, full_sync, reconcile
from app.models.base import utcnow
from app.models.crm import CrmSyncRun, CrmSyncStatus

logger = logging.getLogger("app.integrations.bitrix24")

MAX_RUN_ATTEMPTS = 20
# A claimed run is not due again for this long: a worker that died mid-run is replaced then.
RUN_LEASE = timedelta(minutes=15)


class Bitrix24Disabled(Conflict):
    slug, title = "bitrix24-disabled", "The Bitrix24 sync is not configured"


async def request_run(
    session: AsyncSession,
    *,
    settings: Settings,
    kind: SyncKind,
    actor_id: uuid.UUID,
    context: RequestContext,
) -> SyncRunRead:
    """Record that an admin wants a full sync or a reconciliation; the worker performs it.
    A run of that kind already waiting is returned instead of a second one."""
    if not settings.bitrix24_enabled:
        raise Bitrix24Disabled("Set DL_BITRIX24_WEBHOOK_URL to enable the Bitrix24 sync.")
    run = await repository.pending_run(session, kind)
    if run is None:
        run = await repository.add_run(session, CrmSyncRun(kind=kind, requested_by=actor_id))
        audit.record(
            session,
            actor_id=actor_id,
            action=f"bitrix24.{kind}_requested",
            target_type="crm_sync_run",
            target_id=run.id,
            context=context,
        )
    await session.flush()
    return SyncRunRead.model_validate(run)


async def get_run(session: AsyncSession, run_id: uuid.UUID) -> SyncRunRead:
    run = await repository.get_run(session, run_id)
    if run is None:
        raise NotFound("No such sync run.")
    return SyncRunRead.model_validate(run)


async def latest_reconciliation(session: AsyncSession) -> SyncRunRead:
    run = await repository.latest_run(session, SyncKind.reconcile)
    if run is None:
        raise NotFound("No reconciliation has been requested yet.")
    return SyncRunRead.model_validate(run)


async def perform_due_run(
    session: AsyncSession,
    client: Bitrix24Client,
    now: datetime,
    *,
    checkpoint: Checkpoint | None = None,
) -> CrmSyncRun | None:
    """Perform the oldest requested run that is due. The claim is a lease (the run is not due
    again for ``RUN_LEASE``), committed at once by ``checkpoint`` in the worker, so other
    workers skip it and a worker that dies leaves it to be taken again. The CRM saying "later"
    reschedules the run (what was done so far is kept); a permanent error fails it."""
    run = await repository.claim_due_run(session, now, now + RUN_LEASE)
    if run is None:
        return None
    if checkpoint is not None:
        await checkpoint()
    try:
        if run.kind == SyncKind.full_sync:
            report: FullSyncReport | ReconcileReport = await full_sync(
                session, client, checkpoint=checkpoint
            )
        else:
            report = await reconcile(session, client)
    except Bitrix24RetryLater as later:
        run.error = later.cause.summary[:500]
        if run.attempts >= MAX_RUN_ATTEMPTS:
            run.status, run.finished_at = CrmSyncStatus.failed, utcnow()
        else:
            run.next_attempt_at = utcnow() + timedelta(seconds=later.retry_after)
        await session.flush()
        return run
    except Bitrix24Error as error:
        logger.warning("bitrix24 %s run %s failed: %s", run.kind, run.id, error.summary)
        run.status, run.finished_at = CrmSyncStatus.failed, utcnow()
        run.error = error.summary[:500]
        await session.flush()
        return run
    run.status, run.finished_at, run.error = CrmSyncStatus.done, utcnow(), None
    run.report = report.model_dump(mode="json")
    await session.flush()
    return run


async def run_requested_syncs(session: AsyncSession, settings: Settings, now: datetime) -> None:
    """Scheduled job: perform a due full sync or reconciliation, if any. It runs in an
    autocommit session (see ``schedule``): every write commits as it is made, so nothing is
    held while Bitrix24 answers or while the client waits out a rate limit."""
    if not settings.bitrix24_enabled or not await repository.due_run_exists(session, now):
        return
    async with httpx.AsyncClient() as http:
        await perform_due_run(session, client_from_settings(http, settings), now)
