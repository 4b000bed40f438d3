"""A scrape: the processes' counters, then the database's figures read now."""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.metrics import process_registry
from app.metrics import repository


class _Snapshot(Collector):
    """Gauges of values already read: prometheus-client collects synchronously, the database
    is read asynchronously, so the reading comes first and this only hands the values over."""

    def __init__(self, families: list[GaugeMetricFamily]):
        self.families = families

    def collect(self) -> Iterable[GaugeMetricFamily]:
        return self.families


async def database_gauges(
    session: AsyncSession, settings: Settings, now: datetime
) -> list[GaugeMetricFamily]:
    pending, oldest = await repository.outbox_pending(session)
    outbox = GaugeMetricFamily(
        "dl_outbox_pending_events", "Outbox events not fanned out into deliveries yet."
    )
    outbox.add_metric([], pending)
    age = GaugeMetricFamily(
        "dl_outbox_oldest_pending_age_seconds",
        "Age of the oldest outbox event not fanned out yet (0 when there is none).",
    )
    age.add_metric([], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)

    deliveries = GaugeMetricFamily(
        "dl_deliveries",
        "Deliveries kept in the log (DL_DELIVERY_LOG_DAYS), by channel and status.",
        labels=["channel", "status"],
    )
    for channel, status, count in await repository.deliveries_by_channel_and_status(session):
        deliveries.add_metric([channel, status], count)

    inbox = GaugeMetricFamily(
        "dl_timepad_inbox_pending", "Timepad webhook messages stored and not applied yet."
    )
    inbox.add_metric([], await repository.timepad_inbox_pending(session))

    since = now - timedelta(seconds=settings.login_window_seconds)
    failures = GaugeMetricFamily(
        "dl_login_failures_in_window",
        "Failed logins within the throttling window (DL_LOGIN_WINDOW_SECONDS).",
    )
    failures.add_metric([], await repository.login_failures_since(session, since))

    held = GaugeMetricFamily(
        "dl_event_seats_held",
        "Seats held (confirmed, checked in, offered) per event open for registration.",
        labels=["event_id"],
    )
    seats = GaugeMetricFamily(
        "dl_event_seats", "Seats per event open for registration.", labels=["event_id"]
    )
    for event in await repository.open_events(session):
        held.add_metric([event.id], event.seats_held)
        seats.add_metric([event.id], event.seats)
    return [outbox, age, deliveries, inbox, failures, held, seats]


async def scrape(session: AsyncSession, settings: Settings) -> bytes:
    """The exposition text of one scrape."""
    snapshot = CollectorRegistry()
    snapshot.register(_Snapshot(await database_gauges(session, settings, datetime.now(UTC))))
    return generate_latest(process_registry()) + generate_latest(snapshot)
