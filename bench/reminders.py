"""A full event's reminders, on PostgreSQL: 1,500 confirmed attendees of one event, the
reminder job run at the moment the two-day reminder is due, and every reminder (text, HTML
and its .ics) delivered to a local SMTP server.

    .venv/bin/python -m bench.reminders [--attendees 1500]

From a freshly migrated database (`dl_bench_reminders`, dropped at the end):
1. the job: `send_reminders` at the due moment records one reminder per attendee and queues
   one `registration.reminder_due` outbox row each, in one transaction;
2. the job again, twice, as other replicas would run it: nothing more is queued;
3. the delivery: the worker fans the reminders out and sends each to an aiosmtpd server on
   127.0.0.1 until all have arrived; duplicates are counted by recipient.
"""

import argparse
import asyncio
import logging
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from app.main import create_app
from app.models.event import Event
from app.models.member import Member
from app.models.outbox import OutboxEvent
from app.models.registration import Registration
from app.models.webhook import Delivery
from app.notifications.channel import EmailChannel
from app.notifications.transport import SmtpTransport
from app.registrations import service as registrations_service
from app.worker.relay import Worker
from bench.import_applications import drop, recreate
from bench.invitations import count, free_port, mail_settings

URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/dl_bench_reminders"
STARTS = datetime(2027, 2, 13, 7, 0, tzinfo=UTC)


class Recipients:
    """Counts what arrives, by recipient, and checks each carries its calendar entry."""

    def __init__(self) -> None:
        self.by_recipient: Counter[str] = Counter()
        self.with_calendar = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.by_recipient[str(message["To"].addresses[0].addr_spec)] += 1
        if any(p.get_content_type() == "text/calendar" for p in message.iter_attachments()):
            self.with_calendar += 1
        return "250 OK"


async def seed(app: Any, attendees: int) -> None:
    async with app.state.sessionmaker() as session:
        event = Event(
            title="Board of directors #9",
            venue_name="Loft",
            venue_address="Moscow, Tverskaya 1",
            starts_at=STARTS,
            ends_at=STARTS + timedelta(hours=4),
            seats=attendees,
            seats_held=attendees,
            status="registration_closed",
        )
        session.add(event)
        members = [
            Member(
                email=f"m{i}@example.com",
                email_normalized=f"m{i}@example.com",
                full_name=f"Member {i}",
                language="ru" if i % 3 else "en",
            )
            for i in range(attendees)
        ]
        session.add_all(members)
        await session.flush()
        confirmed = STARTS - timedelta(days=10)
        session.add_all(
            Registration(
                id=uuid.uuid4(),
                event_id=event.id,
                member_id=m.id,
                status="confirmed",
                confirmed_at=confirmed,
            )
            for m in members
        )
        await session.commit()


async def run(attendees: int) -> dict[str, float]:
    await recreate(URL)
    handler = Recipients()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings = mail_settings(URL, port)
    app = create_app(settings)
    figures: dict[str, float] = {}
    try:
        await seed(app, attendees)
        due = STARTS - timedelta(days=2) + timedelta(seconds=5)
        started = time.perf_counter()
        async with app.state.sessionmaker() as session:
            figures["queued"] = await registrations_service.send_reminders(session, settings, due)
            await session.commit()
        figures["job_s"] = time.perf_counter() - started
        again = 0
        for later in (due + timedelta(seconds=30), due + timedelta(minutes=1)):
            async with app.state.sessionmaker() as session:
                again += await registrations_service.send_reminders(session, settings, later)
                await session.commit()
        figures["queued_again"] = again
        outbox = select(func.count()).where(OutboxEvent.type == "registration.reminder_due")
        figures["outbox_rows"] = await count(app, outbox.select_from(OutboxEvent))

        email = EmailChannel(app.state.sessionmaker, settings, SmtpTransport(settings))
        worker = Worker(app.state.sessionmaker, settings, [email])
        received = lambda: sum(handler.by_recipient.values())  # noqa: E731
        started = time.perf_counter()
        while received() < figures["queued"] and time.perf_counter() - started < 900:
            if not await worker.run_once():
                await asyncio.sleep(0.05)
        figures["deliver_s"] = time.perf_counter() - started
        await asyncio.sleep(1)  # anything sent twice would arrive by now
        while await worker.run_once():
            pass
        figures["received"] = received()
        figures["recipients"] = len(handler.by_recipient)
        figures["duplicates"] = received() - len(handler.by_recipient)
        figures["with_calendar"] = handler.with_calendar
        failed = select(func.count()).where(
            Delivery.channel == "email", Delivery.status != "succeeded"
        )
        figures["not_succeeded"] = await count(app, failed.select_from(Delivery))
    finally:
        controller.stop()
        await app.state.engine.dispose()
        await drop(URL)
    return figures


def main() -> None:
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--attendees", type=int, default=1500)
    args = parser.parse_args()
    f = asyncio.run(run(args.attendees))
    n = int(f["queued"])
    print(f"reminder job for {args.attendees} attendees     {f['job_s']:7.2f} s  {n} queued")
    print(
        f"the job twice more                     {int(f['queued_again'])} queued "
        f"({int(f['outbox_rows'])} outbox rows in all)"
    )
    print(
        f"delivery to SMTP                    {f['deliver_s']:7.2f} s  "
        f"{n / f['deliver_s']:.0f}/s; {int(f['received'])} received by "
        f"{int(f['recipients'])} recipients, {int(f['duplicates'])} duplicates, "
        f"{int(f['with_calendar'])} with .ics, {int(f['not_succeeded'])} not succeeded"
    )


if __name__ == "__main__":
    main()
