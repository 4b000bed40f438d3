"""Housekeeping that keeps the throttling and idempotency tables small.

Runs inside every API process once an hour; deleting what has expired is idempotent, so two
replicas doing it at once do no harm. (The outbox worker, when it arrives, can take it over.)
"""

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth import service as auth_service
from app.core import idempotency
from app.core.config import Settings

logger = logging.getLogger("app.maintenance")
INTERVAL_SECONDS = 3600


async def prune_expired(session: AsyncSession, settings: Settings, now: datetime) -> None:
    await idempotency.prune(session, now)
    await auth_service.prune_login_failures(
        session, before=now - timedelta(seconds=settings.login_window_seconds)
    )


async def run_periodically(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    while True:
        try:
            async with sessionmaker() as session:
                await prune_expired(session, settings, datetime.now(UTC))
                await session.commit()
        except Exception:  # a failed round (database down) must not end the loop
            logger.warning("maintenance round failed; retrying next interval", exc_info=True)
        await asyncio.sleep(INTERVAL_SECONDS)
