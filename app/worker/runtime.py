"""Starting and stopping the background work: the relay and the scheduled jobs.

The API process runs it by default (`worker_in_process`), so one command serves everything;
`python -m app.worker` runs the same thing alone, as many times as needed.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.db import autocommit_twin
from app.core.delivery import Channel
from app.core.http import outbound_client
from app.integrations.bitrix24.channel import CrmChannel
from app.integrations.bitrix24.client import client_from_settings
from app.notifications.channel import EmailChannel
from app.notifications.transport import transport_for
from app.webhooks.channel import WebhookChannel
from app.worker import schedule
from app.worker.relay import Worker

logger = logging.getLogger("app.worker")
# How long a stopping worker waits for attempts in flight (each is bounded by its timeout).
DRAIN_SECONDS = 30


def build_channels(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    webhook_client: httpx.AsyncClient,
    crm_http: httpx.AsyncClient,
) -> list[Channel]:
    channels: list[Channel] = [
        WebhookChannel(webhook_client),
        EmailChannel(sessionmaker, settings, transport_for(settings)),
    ]
    if settings.bitrix24_enabled:
        # One client per worker: its leaky bucket paces every CRM call this worker makes.
        channels.append(
            CrmChannel(
                # Autocommit: nothing stays locked while the portal answers or rate-limits us.
                autocommit_twin(sessionmaker),
                client_from_settings(crm_http, settings),
                settings.bitrix24_lead_statuses,
                settings.bitrix24_deal_stages,
            )
        )
    return channels


@asynccontextmanager
async def background(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[Worker]:
    client = outbound_client(
        settings.webhook_allowed_http_hosts, settings.webhook_timeout_seconds, webhook_transport
    )
    crm_http = httpx.AsyncClient(follow_redirects=False, trust_env=False)
    worker = Worker(
        sessionmaker, settings, build_channels(sessionmaker, settings, client, crm_http)
    )
    relay = asyncio.create_task(worker.run(), name="outbox-relay")
    jobs = asyncio.create_task(
        schedule.run_periodically(sessionmaker, settings), name="scheduled-jobs"
    )
    try:
        yield worker
    finally:
        worker.stop()
        jobs.cancel()
        try:
            await asyncio.wait_for(relay, DRAIN_SECONDS)
        except TimeoutError:
            logger.warning("relay did not drain within %ss; its leases will expire", DRAIN_SECONDS)
        with suppress(asyncio.CancelledError):
            await jobs
        await client.aclose()
        await crm_http.aclose()
