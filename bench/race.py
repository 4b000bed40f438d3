"""``python -m bench.race``: the registration race alone, on PostgreSQL, over real sockets.

200 members register and at once confirm for 64 seats, one connection each, against uvicorn
(one worker) with ``python -m app.worker`` delivering the outbox meanwhile, as in the
event-day mix of ``bench.load`` but with nothing else running, so that its figures are the
race's own. The race is run ``--rounds`` times, each time for a new event. Meanwhile
``pg_stat_activity`` is sampled every 20 ms: how many backends wait on a lock, and how many
sit idle inside a transaction (a connection holding locks while the API does something else).

Reported, next to the requests: client-side p50/p95/p99 of both steps, uvicorn's CPU per
request, the largest lock queue seen, and the invariant (never more confirmed than seats,
the event's count equal to its firm registrations). Results go to bench/README.md ("race").
The exit status is non-zero if a request got a 5xx or a transport error, or the invariant fails.
"""

import argparse
import asyncio
import logging
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import threading
import uuid
from collections import Counter
from collections.abc import Sequence
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from sqlalchemy.engine import make_url

from app.core.config import Settings
from app.core.security import TokenCodec
from bench import report, seed
from bench.load import (
    BACKLOG,
    RACE_SEATS,
    RACERS,
    RouteFigures,
    _open_event,
    _row,
    cpu_seconds,
    figures,
    machine,
    percentile,
    run_client,
)
from bench.outbox import worker_processes
from bench.profile import Recording, find_py_spy
from bench.run import HOST, TOKEN_MINUTES, BenchFailure, free_port, serve, tail
from bench.seed import ROOT

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/dl_bench_race"
TARGET_P99_MS = 2000.0
SAMPLE_SECONDS = 0.02


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.race",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="races, each for a new event (default: %(default)s)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="at most this many racers at once (default: all of them, at the same instant)",
    )
    parser.add_argument(
        "--api-workers",
        type=int,
        default=1,
        help="uvicorn worker processes on one socket (default: %(default)s)",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="uvicorn alone on the first core, everything else (PostgreSQL, the worker, the "
        "load process) on the others; needs the right to move PostgreSQL's processes",
    )
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=0,
        metavar="N",
        help="run the worker at this niceness (0 to 19), as a deployment that gives the API "
        "precedence over deliveries would (default: %(default)s)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample uvicorn with py-spy through the races and print where its CPU went",
    )
    seed.add_database_argument(parser, DEFAULT_DATABASE_URL)
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be positive")
    if args.pin and args.api_workers != 1:
        parser.error("--pin gives one core to one uvicorn worker: use it with --api-workers 1")
    if args.profile and args.api_workers != 1:
        parser.error("--profile samples one uvicorn process: use it with --api-workers 1")
    seed.refuse_unless_bench(parser, args.database_url)
    return args


class MailSink:
    """An SMTP server (aiosmtpd, on its own thread) that accepts and counts what the worker
    sends: without one every e-mail fails and is retried, and the retries take CPU the race's
    server needs."""

    def __init__(self) -> None:
        self.received = 0
        self.port = free_port()
        self._controller = Controller(self, hostname=HOST, port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.received += 1
        return "250 OK"

    def __enter__(self) -> "MailSink":
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


class LockSampler:
    """Samples ``pg_stat_activity`` on its own thread and connection while the race runs."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.most_waiting = 0
        self.most_idle_in_transaction = 0
        # What the waiting backends were running, by the statement's first words.
        self.waiting_on: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        connection = await seed.connect(self.database_url)
        try:
            while not self._stop.is_set():
                row = await connection.fetchrow(
                    "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock') AS waiting, "
                    " count(*) FILTER (WHERE state = 'idle in transaction') AS idle "
                    "FROM pg_stat_activity WHERE datname = current_database() "
                    " AND pid <> pg_backend_pid()"
                )
                self.most_waiting = max(self.most_waiting, row["waiting"])
                self.most_idle_in_transaction = max(self.most_idle_in_transaction, row["idle"])
                if row["waiting"]:
                    for waiting in await connection.fetch(
                        "SELECT left(query, 60) AS query FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    ):
                        self.waiting_on[" ".join(waiting["query"].split())] += 1
                await asyncio.sleep(SAMPLE_SECONDS)
        finally:
            await connection.close()

    def __enter__(self) -> "LockSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


async def _race_outcome(database_url: str, event_id: str) -> dict[str, Any]:
    connection = await seed.connect(database_url)
    try:
        statuses = dict(
            await connection.fetch(
                "SELECT status, count(*) FROM registration WHERE event_id = $1 GROUP BY status",
                uuid.UUID(event_id),
            )
        )
        seats_held = await connection.fetchval(
            "SELECT seats_held FROM event WHERE id = $1", uuid.UUID(event_id)
        )
        version = str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()
    firm = sum(n for s, n in statuses.items() if s in ("confirmed", "offered", "checked_in"))
    return {
        "statuses": statuses,
        "seats_held": seats_held,
        "firm": firm,
        "sound": firm <= RACE_SEATS and firm == seats_held,
        "server_version": version,
    }


def postgres_cpu_seconds() -> float:
    """CPU of every PostgreSQL process on this machine (the backends serving the race)."""
    total = 0.0
    for pid in _postgres_pids():
        try:
            total += cpu_seconds(pid)
        except OSError:  # the process ended meanwhile
            continue
    return total


def api_cpu_seconds(pid: int) -> float:
    """uvicorn's CPU: the process serving, and with ``--workers`` its worker processes."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    total = cpu_seconds(pid)
    for child in children:
        try:
            total += cpu_seconds(int(child))
        except OSError:
            continue
    return total


def client_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _set_affinity(pid: int, cores: set[int]) -> None:
    """Every thread of a process onto ``cores`` (the affinity of a pid is its main thread's)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            os.sched_setaffinity(int(task.name), cores)
        except (ProcessLookupError, FileNotFoundError):  # the thread ended meanwhile
            continue


def _postgres_pids() -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "comm").read_text().strip() == "postgres":
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


class Pinning:
    """``--pin``: uvicorn gets the first core to itself; this process (and so the load process
    it starts), the worker and PostgreSQL share the rest. Undone at the end."""

    def __init__(self, server_pid: int, worker_pids: list[int]) -> None:
        self.everything = os.sched_getaffinity(0)
        if len(self.everything) < 2:
            raise BenchFailure("--pin needs at least two cores")
        first = min(self.everything)
        self.api, self.rest = {first}, self.everything - {first}
        self.server_pid, self.worker_pids = server_pid, worker_pids

    def __enter__(self) -> "Pinning":
        try:
            for pid in (os.getpid(), *self.worker_pids, *_postgres_pids()):
                _set_affinity(pid, self.rest)
            _set_affinity(self.server_pid, self.api)
        except PermissionError as error:
            self.__exit__()
            raise BenchFailure(f"--pin could not move a process: {error}") from error
        return self

    def refresh(self) -> None:
        """PostgreSQL starts a backend per new connection: move the new ones too."""
        for pid in _postgres_pids():
            _set_affinity(pid, self.rest)

    def __exit__(self, *exc: object) -> None:
        for pid in (os.getpid(), self.server_pid, *self.worker_pids, *_postgres_pids()):
            try:
                _set_affinity(pid, self.everything)
            except (OSError, ValueError):
                continue


def run(args: argparse.Namespace) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    secret = secrets.token_urlsafe(48)
    codec = TokenCodec(Settings(jwt_secret=secret, access_token_minutes=TOKEN_MINUTES))
    env = {"DL_WORKER_IN_PROCESS": "false", "DL_WORKER_IDLE_SECONDS": "0.2"}
    mails = MailSink()
    env |= {"DL_SMTP_PORT": str(mails.port), "DL_SMTP_STARTTLS": "false"}
    ids = asyncio.run(seed.member_ids_with_admin(args.database_url))
    admin = {"Authorization": f"Bearer {codec.issue(ids[0], ['admin', 'member'], 0)}"}
    tokens = [codec.issue(member, ["member"], 0) for member in ids[1 : 1 + RACERS]]
    races = []
    with (
        mails,
        tempfile.TemporaryDirectory(prefix="dl-bench-race-") as tmp_name,
        worker_processes(args.database_url, secret, 1, env, args.worker_nice) as workers,
    ):
        tmp = Path(tmp_name)
        log = tmp / "uvicorn.log"
        with (
            serve(
                args.database_url,
                secret,
                log,
                env,
                ("--backlog", str(BACKLOG)),
                workers=args.api_workers,
            ) as server,
            Pinning(server.pid, workers) if args.pin else nullcontext() as pinning,
            Recording(find_py_spy(), server.pid) if args.profile else nullcontext() as recording,
        ):
            for number in range(args.rounds):
                with httpx.Client(base_url=server.base_url, timeout=60) as client:
                    event_id = _open_event(
                        client,
                        admin,
                        f"Board of directors: session {number + 1}",
                        RACE_SEATS,
                        datetime.now(UTC) + timedelta(days=30 + number),
                    )
                if pinning is not None:
                    pinning.refresh()
                plan = {
                    "mode": "race",
                    "base_url": server.base_url,
                    "duration_seconds": 60,
                    "race": {
                        "event_id": event_id,
                        "tokens": tokens,
                        "at_seconds": 0.0,
                        "concurrency": args.concurrency,
                    },
                }
                print(f"Race {number + 1} of {args.rounds} ...")
                before = (
                    api_cpu_seconds(server.pid),
                    cpu_seconds(workers[0]),
                    postgres_cpu_seconds(),
                    client_cpu_seconds(),
                )
                with LockSampler(args.database_url) as sampler:
                    result = run_client(plan, tmp, f"race{number}")
                result["api_cpu_seconds"] = api_cpu_seconds(server.pid) - before[0]
                result["worker_cpu_seconds"] = cpu_seconds(workers[0]) - before[1]
                result["postgres_cpu_seconds"] = postgres_cpu_seconds() - before[2]
                result["client_cpu_seconds"] = client_cpu_seconds() - before[3]
                result["most_waiting"] = sampler.most_waiting
                result["most_idle_in_transaction"] = sampler.most_idle_in_transaction
                result["waiting_on"] = sampler.waiting_on.most_common(3)
                print(f"  waiting on: {result['waiting_on']}")
                result["outcome"] = asyncio.run(_race_outcome(args.database_url, event_id))
                for sample in result["samples"]:
                    print(f"  failed: {sample}", file=sys.stderr)
                races.append(result)
            if any(f.server_errors for r in races for f in figures(r)):
                print(f"uvicorn's log ends with:\n{tail(log)}", file=sys.stderr)
    merged: dict[str, Any] = {
        "seconds": sum(r["seconds"] for r in races),
        "routes": {},
        "mails": mails.received,
        "hotspots": recording.report if recording is not None else "",
    }
    for result in races:
        for route, data in result["routes"].items():
            into = merged["routes"].setdefault(route, {"latencies_ms": [], "statuses": Counter()})
            into["latencies_ms"].extend(data["latencies_ms"])
            into["statuses"].update(data["statuses"])
    return merged, races


def failures_of(merged: dict[str, Any], races: list[dict[str, Any]]) -> list[str]:
    failures = []
    for f in figures(merged):
        if f.server_errors or f.transport_errors:
            failures.append(f"{f.route}: {f.server_errors} 5xx, {f.transport_errors} failed")
    for number, result in enumerate(races, 1):
        outcome = result["outcome"]
        if not outcome["sound"]:
            failures.append(
                f"race {number}: {outcome['firm']} firm registrations, "
                f"{outcome['seats_held']} seats held, {RACE_SEATS} seats"
            )
    return failures


def render(
    started: datetime,
    args: argparse.Namespace,
    merged: dict[str, Any],
    races: list[dict[str, Any]],
    failures: list[str],
) -> str:
    rows: list[RouteFigures] = figures(merged)
    every = [v for data in merged["routes"].values() for v in data["latencies_ms"]]
    requests = sum(f.requests for f in rows)
    cpu = sum(r["api_cpu_seconds"] for r in races)
    worst = percentile(every, 0.99)
    lines = [
        "## Results: the registration race alone"
        + (", uvicorn on a core of its own" if args.pin else ""),
        "",
        f"Measured {started:%Y-%m-%d %H:%M} UTC on {machine()}, PostgreSQL "
        f"{races[0]['outcome']['server_version']}. uvicorn with {args.api_workers} worker"
        f"{'s' if args.api_workers > 1 else ''}, `python -m app.worker` "
        + (f"at niceness {args.worker_nice} " if args.worker_nice else "")
        + "delivering meanwhile to a local SMTP server, the load process (lean HTTP/1.1 "
        "connections, "
        "`bench/load_client.py`) in its own process"
        + (
            "; uvicorn pinned to the first core, everything else to the others. "
            if args.pin
            else ", all sharing the machine's cores. "
        )
        + f"{args.rounds} races, each of {RACERS} members registering and at once confirming for "
        f"{RACE_SEATS} seats of a new event, one connection each. "
        f"Reproduce: `.venv/bin/python -m bench.race --rounds {args.rounds}"
        f"{' --pin' if args.pin else ''}"
        f"{f' --api-workers {args.api_workers}' if args.api_workers > 1 else ''}"
        f"{f' --worker-nice {args.worker_nice}' if args.worker_nice else ''}`.",
        "",
        "| Route | Requests | Requests/s | p50 (ms) | p95 (ms) | p99 (ms) | Statuses |",
        "|---|---:|---:|---:|---:|---:|---|",
        *(_row(f) for f in rows),
        "",
        "| Race | Seconds | uvicorn CPU per request | CPU s: uvicorn / worker / PostgreSQL / "
        "load client | Most backends waiting on a lock | Most idle in a transaction | Outcome |",
        "|---:|---:|---:|---:|---:|---:|---|",
        *(
            f"| {n} | {r['seconds']:.2f} | "
            f"{r['api_cpu_seconds'] / max(1, sum(f.requests for f in figures(r))) * 1000:.1f} ms "
            f"| {r['api_cpu_seconds']:.1f} / {r['worker_cpu_seconds']:.1f} / "
            f"{r['postgres_cpu_seconds']:.1f} / {r['client_cpu_seconds']:.1f} "
            f"| {r['most_waiting']} | {r['most_idle_in_transaction']} | "
            + ", ".join(f"{s}: {c}" for s, c in sorted(r["outcome"]["statuses"].items()))
            + f"; seats held {r['outcome']['seats_held']} |"
            for n, r in enumerate(races, 1)
        ),
        "",
        f"Every request of every race: p99 {worst:,.0f} ms (target under "
        f"{TARGET_P99_MS:,.0f} ms: {'met' if worst < TARGET_P99_MS else 'not met'}); uvicorn "
        f"used {cpu:.2f} s of CPU for {requests:,} requests "
        f"({cpu / max(1, requests) * 1000:.1f} ms each). The worker sent {merged['mails']:,} "
        "e-mails to a local SMTP server meanwhile.",
        "",
        "Failures: " + ("; ".join(failures) if failures else "none") + ".",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    print(f"Seeding {RACERS + 1} members into {make_url(args.database_url).database} ...")
    try:
        seed.prepare_database(args.database_url, RACERS + 1)
        merged, races = run(args)
    except (BenchFailure, seed.DatabaseError, subprocess.TimeoutExpired) as error:
        print(f"bench failed: {error}", file=sys.stderr)
        return 1
    finally:
        seed.drop_database(args.database_url)
    failures = failures_of(merged, races)
    section = render(started, args, merged, races, failures)
    report.write(section, marker="race-pinned" if args.pin else "race")
    print(f"\n{section}\nWritten to {report.README.relative_to(ROOT)}.")
    if merged["hotspots"]:
        print(f"\nWhere uvicorn's CPU went through the races (py-spy):\n{merged['hotspots']}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
