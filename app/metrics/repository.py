"""The figures read from the database at scrape time: short aggregate queries, each on an
indexed column or a small table, so a scrape every 15 s costs the database next to nothing."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.event import Event, EventStatus
from app.models.inbox import InboxMessage
from app.models.outbox import OutboxEvent
from app.models.token import LoginFailure
from app.models.webhook import Delivery

# The source Timepad's webhooks are stored under (`app/integrations/timepad/repository.py`).
TIMEPAD_SOURCE = "timepad"
# A failed login is counted under its account and under its client address; the address key
# alone counts each failure once (a success clears the account key, never the address one).
LOGIN_FAILURE_PREFIX = "address:"


@dataclass(frozen=True)
class OpenEvent:
    id: str
    seats: int
    seats_held: int


async def outbox_pending(session: AsyncSession) -> tuple[int, datetime | None]:
    """Events not fanned out yet, and when the oldest of them happened."""
    row = (
        await session.execute(
            select(func.count(), func.min(OutboxEvent.occurred_at)).where(
                OutboxEvent.dispatched_at.is_(None)
            )
        )
    ).one()
    return int(row[0]), row[1]


async def deliveries_by_channel_and_status(session: AsyncSession) -> list[tuple[str, str, int]]:
    rows = await session.execute(
        select(Delivery.channel, Delivery.status, func.count()).group_by(
            Delivery.channel, Delivery.status
        )
    )
    return [(str(channel), str(status), int(count)) for channel, status, count in rows.all()]


async def timepad_inbox_pending(session: AsyncSession) -> int:
    count = await session.scalar(
        select(func.count()).where(
            InboxMessage.source == TIMEPAD_SOURCE, InboxMessage.processed_at.is_(None)
        )
    )
    return int(count or 0)


async def login_failures_since(session: AsyncSession, since: datetime) -> int:
    count = await session.scalar(
        select(func.count()).where(
            LoginFailure.key.startswith(LOGIN_FAILURE_PREFIX),
            LoginFailure.occurred_at >= since,
        )
    )
    return int(count or 0)


async def open_events(session: AsyncSession) -> list[OpenEvent]:
    """Events taking registrations, with their seats and the seats held."""
    rows = await session.execute(
        select(Event.id, Event.seats, Event.seats_held).where(
            Event.status == EventStatus.registration_open
        )
    )
    return [OpenEvent(str(id_), int(seats), int(held)) for id_, seats, held in rows.all()]
