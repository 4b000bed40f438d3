"""The first season's way in, on PostgreSQL: 2,450 applications imported, 1,500 approved, an
invitation for each queued with its approval and delivered to a local SMTP server.

    .venv/bin/python -m bench.invitations [--rows 2450] [--approve 1500]

From a freshly migrated database (`dl_bench_invitations`, dropped at the end) holding one
admin and 30 reviewers, in process through the ASGI app (no network but SMTP on loopback):
1. the CSV import;
2. the approvals, one `POST /applications/{id}/decision` each: the member role, the profile
   and the invitation (a link row and an `account.invited` outbox row) in one transaction;
3. the delivery: the worker fans the invitations out to the e-mail channel and sends each to
   an aiosmtpd server on 127.0.0.1, until every one has arrived;
4. the baseline: the same number of messages of the same size sent straight to the same
   server by aiosmtplib, one connection each, as the transport does: the floor for the mail.
"""

import argparse
import asyncio
import logging
import re
import socket
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from app.core.config import Settings
from app.main import create_app
from app.models.member import Member, MemberRole
from app.models.outbox import OutboxEvent
from app.models.webhook import Delivery
from app.notifications.channel import EmailChannel
from app.notifications.transport import SmtpTransport
from app.worker.relay import Worker
from bench.import_applications import drop, make_csv, recreate

URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/dl_bench_invitations"


class Counting:
    """An SMTP server's message handler that keeps the invitation links that arrive."""

    def __init__(self) -> None:
        self.received = 0
        self.links: set[str] = set()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.received += 1
        message = message_from_bytes(envelope.content, policy=policy.default)
        body = (
            message.get_body(preferencelist=("plain",))
            if isinstance(message, EmailMessage)
            else None
        )
        text = body.get_content() if body is not None else ""
        found = re.search(r"accept-invitation\?token=([\w-]+)", text)
        if found:
            self.links.add(found.group(1))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def seed(app: Any) -> str:
    async with app.state.sessionmaker() as session:
        admin = Member(email="admin@example.com", email_normalized="admin@example.com")
        session.add(admin)
        reviewers = [
            Member(email=f"r{i}@example.com", email_normalized=f"r{i}@example.com")
            for i in range(30)
        ]
        session.add_all(reviewers)
        await session.flush()
        session.add(MemberRole(member_id=admin.id, role="admin"))
        session.add_all(MemberRole(member_id=r.id, role="reviewer") for r in reviewers)
        await session.commit()
    return app.state.token_codec.issue(admin.id, ["admin"], 0)


async def count(app: Any, query: Any) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(query) or 0)


def mail_settings(database_url: str, smtp_port: int, **overrides: Any) -> Settings:
    """The app as these benchmarks run it: no worker of its own, real SMTP to the local
    server, a wide batch."""
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "jwt_secret": "b" * 48,
        "worker_in_process": False,
        "mail_transport": "smtp",
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
        "smtp_starttls": False,
        "worker_batch_size": 200,
        "worker_concurrency": 16,
    }
    return Settings(**(values | overrides))


async def run(rows: int, approve: int) -> dict[str, float]:
    await recreate(URL)
    handler = Counting()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings = mail_settings(
        URL, port, max_body_bytes=4 * 1024 * 1024, application_import_max_rows=rows
    )
    app = create_app(settings)
    figures: dict[str, float] = {}
    try:
        token = await seed(app)
        admin = {"Authorization": f"Bearer {token}"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://b", timeout=300) as api:
            started = time.perf_counter()
            imported = await api.post(
                "/api/v1/applications/import",
                headers={**admin, "content-type": "text/csv"},
                content=make_csv(rows).encode(),
            )
            figures["import_s"] = time.perf_counter() - started
            assert imported.json()["created"] == rows, imported.text[:300]
            ids = [r["application_id"] for r in imported.json()["rows"]][:approve]
            started = time.perf_counter()
            for application_id in ids:
                decided = await api.post(
                    f"/api/v1/applications/{application_id}/decision",
                    headers=admin,
                    json={"status": "approved", "reason": "the council agreed"},
                )
                assert decided.status_code == 200, decided.text[:300]
            figures["approve_s"] = time.perf_counter() - started
        invited = select(func.count()).where(OutboxEvent.type == "account.invited")
        figures["queued"] = await count(app, invited.select_from(OutboxEvent))

        email = EmailChannel(app.state.sessionmaker, settings, SmtpTransport(settings))
        worker = Worker(app.state.sessionmaker, settings, [email])
        started = time.perf_counter()
        while handler.received < figures["queued"] and time.perf_counter() - started < 900:
            if not await worker.run_once():
                await asyncio.sleep(0.05)
        figures["deliver_s"] = time.perf_counter() - started
        figures["received"] = handler.received
        figures["distinct_links"] = len(handler.links)
        failed = select(func.count()).where(
            Delivery.channel == "email", Delivery.status != "succeeded"
        )
        figures["not_succeeded"] = await count(app, failed.select_from(Delivery))

        sample = EmailMessage()
        sample["From"], sample["To"], sample["Subject"] = "a@example.com", "b@example.com", "x"
        sample.set_content("x" * 900)  # about an invitation's size
        before = handler.received
        started = time.perf_counter()
        for _ in range(int(figures["queued"])):
            await aiosmtplib.send(sample, hostname="127.0.0.1", port=port, start_tls=False)
        figures["baseline_s"] = time.perf_counter() - started
        assert handler.received - before == figures["queued"]
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
    parser.add_argument("--rows", type=int, default=2450)
    parser.add_argument("--approve", type=int, default=1500)
    args = parser.parse_args()
    f = asyncio.run(run(args.rows, args.approve))
    n = int(f["queued"])
    print(f"import of {args.rows} applications        {f['import_s']:7.2f} s")
    print(f"{args.approve} approvals (invitations queued) {f['approve_s']:7.2f} s  {n} queued")
    print(
        f"delivery to SMTP                    {f['deliver_s']:7.2f} s  "
        f"{n / f['deliver_s']:.0f}/s; {int(f['received'])} received, "
        f"{int(f['distinct_links'])} distinct links, {int(f['not_succeeded'])} not succeeded"
    )
    print(
        f"baseline: {n} bare aiosmtplib sends   {f['baseline_s']:7.2f} s  "
        f"{n / f['baseline_s']:.0f}/s (delivery / baseline: {f['deliver_s'] / f['baseline_s']:.2f})"
    )


if __name__ == "__main__":
    main()
