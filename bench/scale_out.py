"""``python -m bench.scale_out``: the event-day mix of ``bench.load`` on one API process and one
worker, then on two API processes and two workers, against one PostgreSQL, in one run.

Each layout gets a freshly seeded database and the same mix (browsing, the 200-for-64 race,
the door, Timepad webhooks, the survey). Afterwards, besides bench.load's invariants (no
oversell, no duplicate registration, no lost webhook, no lost Timepad order), it checks what
scaling out could break:

- **no job ran twice**: every scheduled job ran at most once per interval across all the
  processes (``job_run.runs`` against the time the workers were up; the hourly jobs exactly
  once, however many workers started);
- **no delivery lost or duplicated**: one delivery row per event and subscription, each
  succeeded, and the receiver saw each webhook-id (a second arrival of one id is counted).

Results go to bench/README.md ("scale-out"); the exit status is non-zero if an invariant
fails or a request got a 5xx.
"""

import argparse
import asyncio
import math
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from app.core.config import Settings
from app.core.security import TokenCodec
from bench import load, report, seed
from bench.outbox import receiver, worker_processes
from bench.run import HOST, TOKEN_MINUTES, BenchFailure, serve

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/dl_bench_scale_out"
LAYOUTS = ((1, 1), (2, 2))  # (API processes, workers)


@dataclass(frozen=True, slots=True)
class Outcome:
    api_processes: int
    workers: int
    mix: load.RouteFigures
    routes: list[load.RouteFigures]
    api_cpu_seconds: float
    checks: dict[str, Any]
    jobs: dict[str, Any]
    deliveries: dict[str, int]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale_out",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--duration", type=int, default=45, metavar="SECONDS")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--timepad-rate", type=float, default=10.0, metavar="PER_SECOND")
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    args = parser.parse_args(argv)
    seed.refuse_unless_bench(parser, args.database_url)
    return args


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _api_cpu(pid: int) -> float:
    """uvicorn's master and its worker processes together."""
    return load.cpu_seconds(pid) + sum(load.cpu_seconds(c) for c in _children(pid))


async def _job_runs(database_url: str, up_seconds: float) -> dict[str, Any]:
    connection = await seed.connect(database_url)
    try:
        rows = await connection.fetch("SELECT name, every_seconds, runs FROM job_run")
    finally:
        await connection.close()
    extra = {}
    for row in rows:
        # A job may run at start and then once per interval; a claim that lost the race to a
        # tick just past the boundary is the one run more an interval allows.
        allowed = math.floor(up_seconds / row["every_seconds"]) + 1
        if row["runs"] > allowed:
            extra[row["name"]] = row["runs"] - allowed
    hourly = {r["name"]: r["runs"] for r in rows if r["every_seconds"] >= 3600}
    return {
        "jobs": len(rows),
        "runs": sum(r["runs"] for r in rows),
        "extra_runs": extra,
        "hourly_runs": hourly,
    }


async def _delivery_counts(database_url: str, subscription_id: str) -> dict[str, int]:
    connection = await seed.connect(database_url)
    try:
        row = await connection.fetchrow(
            "SELECT count(*) AS deliveries,"
            " count(*) FILTER (WHERE status = 'succeeded') AS succeeded,"
            " count(*) - count(DISTINCT event_id) AS duplicated_rows"
            " FROM delivery WHERE subscription_id = $1",
            uuid.UUID(subscription_id),
        )
        return dict(row)
    finally:
        await connection.close()


def run_layout(args: argparse.Namespace, api_processes: int, workers: int) -> Outcome:
    print(f"\n== {api_processes} API process(es), {workers} worker(s) ==")
    seed.prepare_database(args.database_url, args.members)
    secret = secrets.token_urlsafe(48)
    codec = TokenCodec(Settings(jwt_secret=secret, access_token_minutes=TOKEN_MINUTES))
    env = {
        "DL_WORKER_IN_PROCESS": "false",
        "DL_TIMEPAD_WEBHOOK_SECRET": load.TIMEPAD_SECRET,
        "DL_WEBHOOK_ALLOWED_HTTP_HOSTS": f'["{HOST}"]',
        "DL_WORKER_IDLE_SECONDS": "0.2",
    }
    try:
        with (
            tempfile.TemporaryDirectory(prefix="dl-bench-scale-") as tmp_name,
            receiver() as receiver_url,
            worker_processes(args.database_url, secret, workers, env),
        ):
            workers_up = time.monotonic()
            tmp = Path(tmp_name)
            with serve(
                args.database_url,
                secret,
                tmp / "uvicorn.log",
                env,
                ("--backlog", str(load.BACKLOG)),
                workers=api_processes,
            ) as server:
                setup = load.set_up(server.base_url, receiver_url, args.database_url, codec, args)
                print(f"Running the mix for {args.duration} s ...")
                cpu_before = _api_cpu(server.pid)
                mix = load.run_client(setup.plan, tmp, "mix")
                api_cpu = _api_cpu(server.pid) - cpu_before
                load.drain(args.database_url)
                stats = httpx.get(f"{receiver_url}/stats", timeout=30).json()
                received = set(httpx.get(f"{receiver_url}/ids", timeout=30).json())
                checks = asyncio.run(
                    load._invariants(args.database_url, setup, mix["timepad_accepted"], received)
                )
                jobs = asyncio.run(_job_runs(args.database_url, time.monotonic() - workers_up))
                deliveries = asyncio.run(_delivery_counts(args.database_url, setup.subscription_id))
                deliveries["arrived_twice"] = stats["total"] - stats["unique"]
    finally:
        seed.drop_database(args.database_url)
    return Outcome(
        api_processes,
        workers,
        load.total(mix),
        load.figures(mix),
        api_cpu,
        checks,
        jobs,
        deliveries,
    )


def failures_of(outcome: Outcome) -> list[str]:
    failed = []
    checks, jobs, deliveries = outcome.checks, outcome.jobs, outcome.deliveries
    layout = f"{outcome.api_processes}+{outcome.workers}"
    if checks["overbooked"]:
        failed.append(f"{layout}: overbooking")
    if checks["duplicates"] or checks["duplicate_guests"]:
        failed.append(f"{layout}: duplicate registrations")
    if checks["not_delivered"] or checks["not_received"] or deliveries["duplicated_rows"]:
        failed.append(f"{layout}: lost or duplicated deliveries")
    if checks["lost_orders"]:
        failed.append(f"{layout}: lost Timepad orders")
    if jobs["extra_runs"] or any(runs != 1 for runs in jobs["hourly_runs"].values()):
        failed.append(f"{layout}: a job ran more often than its interval allows")
    if outcome.mix.server_errors or outcome.mix.transport_errors:
        failed.append(f"{layout}: 5xx or transport errors")
    return failed


def render(started: datetime, args: argparse.Namespace, outcomes: list[Outcome]) -> str:
    base = outcomes[0]
    lines = [
        "## Results: scaling out (two API processes and two workers)",
        "",
        f"Measured {started:%Y-%m-%d %H:%M} UTC on {load.machine()}, {args.members:,} members, "
        f"the event-day mix of `bench.load` for {args.duration} s with {args.connections} "
        "browsing connections, each layout on a freshly seeded database, one after the other "
        "in one run. API processes are uvicorn workers on one socket (`--workers N`), workers "
        "are `python -m app.worker` processes; all share one PostgreSQL and two cores, so "
        "scaling out here shows what stays correct, not more throughput than the cores give.",
        f"Reproduce: `.venv/bin/python -m bench.scale_out --duration {args.duration}`.",
        "",
        "| Layout | Requests | Requests/s | vs 1+1 | p99 (ms) | API CPU (s) | 5xx | "
        "Oversell | Duplicate job runs | Hourly jobs ran | Lost / duplicated deliveries |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|---|---|",
    ]
    for o in outcomes:
        hourly = sorted(set(o.jobs["hourly_runs"].values())) or ["none"]
        lost = o.checks["not_delivered"] + o.checks["not_received"]
        lines.append(
            f"| {o.api_processes} API + {o.workers} worker{'s' if o.workers > 1 else ''} "
            f"| {o.mix.requests:,} | {o.mix.per_second:.1f} "
            f"| {o.mix.per_second / base.mix.per_second:.2f} | {o.mix.p99:.0f} "
            f"| {o.api_cpu_seconds:.1f} | {o.mix.server_errors} "
            f"| {len(o.checks['overbooked'])} "
            f"(race: {o.checks['race'].get('confirmed', 0)} confirmed) "
            f"| {sum(o.jobs['extra_runs'].values())} "
            f"({o.jobs['runs']} runs of {o.jobs['jobs']} jobs) "
            f"| {', '.join(map(str, hourly))}x each "
            f"| {lost} / {o.deliveries['duplicated_rows']} "
            f"({o.checks['events']:,} events; {o.deliveries['arrived_twice']} arrived twice) |"
        )
    for o in outcomes:
        errors = [
            f"`{f.route}` {code}: {n}"
            for f in o.routes
            for code, n in sorted(f.statuses.items())
            if not code.startswith(("2", "4"))
        ]
        if errors:
            lines.append("")
            lines.append(
                f"{o.api_processes}+{o.workers}, answers that were not 2xx/4xx: "
                + "; ".join(errors)
                + "."
            )
    failed = [f for o in outcomes for f in failures_of(o)]
    lines += [
        "",
        "Duplicate job runs: runs beyond one at start plus one per interval while the workers "
        "were up, per job, summed; the hourly jobs must have run exactly once across all "
        "workers. Lost deliveries: outbox events without a succeeded delivery to the "
        "receiver's subscription, or whose webhook-id the receiver never saw; duplicated: "
        "more than one delivery row for an event and the subscription (a webhook-id arriving "
        "twice is at-least-once delivery after a timeout, shown but allowed).",
        "",
        f"Verdict: {'every invariant holds' if not failed else '**' + '; '.join(failed) + '**'}.",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    try:
        outcomes = [run_layout(args, api, workers) for api, workers in LAYOUTS]
    except (BenchFailure, seed.DatabaseError) as error:
        print(f"bench failed: {error}", file=sys.stderr)
        return 1
    section = render(started, args, outcomes)
    report.write(section, marker="scale-out")
    print(f"\n{section}\nWritten to {report.README.relative_to(seed.ROOT)}.")
    return 1 if any(failures_of(o) for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
