"""The initial Bitrix24 sync of 1,500 members against the fake portal at its real limit.

    .venv/bin/python -m bench.bitrix24_sync [--members 1500] [--existing 300] [--latency 0.1]

Scenarios, each on a fresh embedded (SQLite) database and a fresh fake portal that enforces
the leaky bucket (drain 2 requests/s, block above 50, answering 503 QUERY_LIMIT_EXCEEDED):

1. full sync, batched, in real time: the product's path (``service.full_sync``);
2. the same full sync again with nothing changed;
3. the same with the portal answering 503 QUERY_LIMIT_EXCEEDED for the first 60 s, on a
   simulated clock (the run backs off, is rescheduled as the worker would, and completes);
4. baseline: one member at a time (``service.sync_member`` per member, no batch), on a
   simulated clock: at 2 requests/s it would take about 25 minutes of real time.

Portal latency is modelled (``--latency`` per request plus ``--per-command`` per batch
command) because the fake answers in microseconds and the real portal does not; the same model
applies to every scenario. ``--existing`` members are already in the CRM (created by its users
with the same e-mail), so the run exercises matching and linking, not only creation.
"""

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncSession

from alembic import command
from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker
from app.integrations.bitrix24 import service
from app.integrations.bitrix24.client import Bitrix24Client, Bitrix24RetryLater
from app.models.member import Member, MemberRole
from bench.seed import COMPANIES, FIRST_NAMES, JOB_TITLES, LAST_NAMES
from tests.integrations.bitrix24.fake import PORTAL_URL, FakeBitrix24, FakeClock, Outage

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    clock: str
    rejected: int
    max_level: float
    retries: int
    summary: str


def migrate(url: str) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


async def seed(session: AsyncSession, count: int, rng: random.Random) -> list[Member]:
    """Members with a realistic mix of consents: about half open their e-mail to members."""
    members = []
    for i in range(count):
        function = rng.choice(list(JOB_TITLES))
        visibility = {
            f: rng.choice(("nobody", "table", "members", "public"))
            for f in ("company", "job_title", "phone", "email")
        }
        email = f"member{i:05d}@example.com"
        members.append(
            Member(
                id=uuid.UUID(int=rng.getrandbits(128)),
                email=email,
                email_normalized=email,
                full_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                function=function,
                job_title=JOB_TITLES[function],
                company=rng.choice(COMPANIES),
                phone=f"+7 9{rng.randrange(10**9):09d}",
                **{f"{f}_visibility": v for f, v in visibility.items()},
            )
        )
    session.add_all(members)
    await session.flush()
    session.add_all(MemberRole(member_id=m.id, role="member") for m in members)
    await session.commit()
    return members


def latency_transport(
    fake: FakeBitrix24,
    per_request: float,
    per_command: float,
    sleep: Callable[[float], Awaitable[None]],
) -> httpx.MockTransport:
    async def handler(request: httpx.Request) -> httpx.Response:
        response = fake.handle(request)
        commands = 1
        if request.url.path.endswith("/batch.json") and response.status_code == 200:
            commands = len(response.json()["result"]["result"] or []) or 1
        await sleep(per_request + per_command * commands)
        return response

    return httpx.MockTransport(handler)


async def scenario(
    args: argparse.Namespace,
    name: str,
    *,
    simulated: bool,
    batched: bool,
    repeat: bool = False,
    outage: float = 0.0,
) -> list[Result]:
    rng = random.Random(args.seed)
    path = Path(tempfile.mkdtemp(prefix="dl-bench-b24-")) / "bench.db"
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(migrate, url)  # alembic runs its own event loop
    settings = Settings(database_url=url, environment="test", jwt_secret="b" * 40)
    engine = create_engine(settings)
    sessions = create_sessionmaker(engine)
    clock: Any = FakeClock(start=time.time()) if simulated else time.time
    sleep = clock.sleep if simulated else asyncio.sleep
    fake = FakeBitrix24(clock=clock)
    if outage:
        fake.outage = Outage(until=clock() + outage)
    results = []
    try:
        async with sessions() as session:
            members = await seed(session, args.members, rng)
            existing = rng.sample(members, args.existing)
            for member in existing:
                fake.seed(
                    NAME=member.full_name.split()[0],
                    COMMENTS="entered by a manager",
                    EMAIL=[{"VALUE": member.email, "VALUE_TYPE": "WORK"}],
                )
            member_ids = [m.id for m in members]
        rounds = ["initial"] + (["unchanged"] if repeat else [])
        transport = latency_transport(fake, args.latency, args.per_command, sleep)
        async with httpx.AsyncClient(transport=transport) as http:
            client = Bitrix24Client(
                http, PORTAL_URL, clock=clock, sleep=sleep, rng=random.Random(args.seed)
            )
            for label in rounds:
                before_requests, before_retries = client.stats.requests, client.stats.retries
                started = clock()
                async with sessions() as session:
                    if batched:
                        # As the worker runs it: a commit after every round, and when the
                        # portal says "later", the run is taken up again at that time.
                        attempts = 0
                        while True:
                            attempts += 1
                            try:
                                report = await service.full_sync(
                                    session, client, checkpoint=session.commit
                                )
                                break
                            except Bitrix24RetryLater as later:
                                await session.commit()
                                await sleep(later.retry_after)
                        summary = (
                            f"created {report.created}, linked {report.linked}, "
                            f"unchanged {report.unchanged}, failed {report.failed}"
                            + (f", {attempts} attempts" if attempts > 1 else "")
                        )
                    else:
                        outcomes: dict[str, int] = {}
                        for member_id in member_ids:
                            outcome = await service.sync_member(session, client, member_id)
                            outcomes[outcome] = outcomes.get(outcome, 0) + 1
                        summary = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
                    await session.commit()
                results.append(
                    Result(
                        name=f"{name} ({label})",
                        requests=client.stats.requests - before_requests,
                        seconds=clock() - started,
                        clock="simulated" if simulated else "real",
                        rejected=fake.rejected,
                        max_level=fake.max_level,
                        retries=client.stats.retries - before_retries,
                        summary=summary,
                    )
                )
        # A member already in the CRM is found only if their e-mail may be searched for
        # (consent); the others get a contact of their own beside the manager's.
        unmatched = sum(m.email_visibility not in ("members", "public") for m in existing)
        assert len(fake.contacts) == args.members + unmatched, "one contact per member"
        for r in results:
            r.summary += f"; {args.existing - unmatched} of {args.existing} existing matched"
    finally:
        await engine.dispose()
        path.unlink(missing_ok=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=1500)
    parser.add_argument(
        "--existing",
        type=int,
        default=300,
        help="members already in the CRM, found by e-mail when consented",
    )
    parser.add_argument(
        "--latency", type=float, default=0.1, help="modelled portal latency per request, seconds"
    )
    parser.add_argument(
        "--per-command",
        type=float,
        default=0.02,
        help="modelled extra latency per command of a batch, seconds",
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    async def run() -> list[Result]:
        out = await scenario(args, "batched full sync", simulated=False, batched=True, repeat=True)
        out += await scenario(args, "batched full sync", simulated=True, batched=True)
        out += await scenario(
            args,
            "batched full sync, portal answering 503 for 60 s",
            simulated=True,
            batched=True,
            outage=60.0,
        )
        out += await scenario(args, "baseline: one member at a time", simulated=True, batched=False)
        return out

    results = asyncio.run(run())
    print(
        f"{args.members} members, {args.existing} already in the CRM; portal limit 2/s, "
        f"burst 50; latency {args.latency} s + {args.per_command} s per batch command"
    )
    print(
        "| scenario | clock | requests | time, s | refused over the limit | "
        "max bucket level | retries | outcome |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r.name} | {r.clock} | {r.requests} | {r.seconds:.1f} | {r.rejected} | "
            f"{r.max_level:.1f} | {r.retries} | {r.summary} |"
        )


if __name__ == "__main__":
    main()
