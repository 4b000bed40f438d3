"""``python -m bench.load``: an event day under load, on PostgreSQL, over real sockets.

uvicorn serves the API (one worker, ceiling routes mounted), `python -m app.worker` delivers
the outbox meanwhile, a webhook receiver (bench/receiver.py) is subscribed to every event
type, and a separate load process (bench/load_client.py) runs, for a bounded time:

- members browsing (events list and detail, directory and profiles) on ``--connections``
  closed loops;
- the race: 200 members register and confirm at the same instant for 64 seats;
- the door: scanners checking confirmed registrations in at today's event;
- Timepad: signed paid-order webhooks at a steady rate, some sent twice;
- the express survey of the previous event answered by its checked-in attendees.

Afterwards, once the worker has drained the outbox, the database is checked: no overbooking,
no duplicate registration, no lost outbound webhook (a successful delivery for every event and
the receiver saw every webhook-id), no lost Timepad order. Then, with the same uvicorn and the
same number of connections, the bare-route ceiling `/bench/members/{id}` and its full-stack
twin `/api/v1/members/{id}` are loaded in turn. The RSS of the API process is read after the
mix. Results go to bench/README.md ("load"); the exit status is non-zero if an invariant fails
or any request got a 5xx or a transport error.
"""

import argparse
import asyncio
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from app.core.config import Settings
from app.core.security import TokenCodec
from bench import report, seed
from bench.outbox import receiver, worker_processes
from bench.run import HOST, TOKEN_MINUTES, BenchFailure, serve, tail
from bench.seed import ROOT

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/dl_bench_load"
TIMEPAD_SECRET = "bench-timepad-" + "p" * 20
TIMEPAD_EVENT = 424242
RACERS, RACE_SEATS = 200, 64
DOOR, ATTENDEES, BROWSERS_TOKENS = 300, 300, 100
RSS_TARGET_MB = 200
DRAIN_TIMEOUT_SECONDS = 120
# uvicorn's listen backlog, stated rather than left to its default (2048), capped by the
# kernel's net.core.somaxconn: the race opens 200 connections at the same instant.
BACKLOG = 2048


@dataclass(frozen=True, slots=True)
class Setup:
    admin: str
    subscription_id: str
    race_event: str
    door_event: str
    past_event: str
    timepad_event: str
    survey_id: str
    plan: dict[str, Any]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--duration",
        type=int,
        default=60,
        metavar="SECONDS",
        help="length of the event-day mix (default: %(default)s)",
    )
    parser.add_argument(
        "--ceiling-duration",
        type=int,
        default=10,
        metavar="SECONDS",
        help="length of each ceiling run after the mix (default: %(default)s)",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=16,
        help="browsing connections, and the connections of the ceiling runs (default: %(default)s)",
    )
    parser.add_argument(
        "--timepad-rate",
        type=float,
        default=10.0,
        metavar="PER_SECOND",
        help="Timepad webhooks per second (default: %(default)s)",
    )
    parser.add_argument(
        "--members", type=int, default=1000, help="members to seed (default: %(default)s)"
    )
    seed.add_database_argument(parser, DEFAULT_DATABASE_URL)
    args = parser.parse_args(argv)
    if min(args.duration, args.ceiling_duration, args.connections) < 1:
        parser.error("--duration, --ceiling-duration and --connections must be positive")
    needed = 1 + RACERS + DOOR + ATTENDEES
    if args.members < needed:
        parser.error(f"--members must be at least {needed}")
    seed.refuse_unless_bench(parser, args.database_url)
    return args


# -- setup -------------------------------------------------------------------------------------


async def _seat_holders(
    database_url: str, event_id: str, members: list[uuid.UUID], status: str
) -> list[uuid.UUID]:
    """Registrations already held when the day starts (confirmed for today's event, checked in
    at the last one), bulk-inserted with the event's seat count to match."""
    now = datetime.now(UTC)
    rows = [
        (uuid.uuid4(), uuid.UUID(event_id), m, status, uuid.uuid4().hex, 1, now, now)
        for m in members
    ]
    connection = await seed.connect(database_url)
    try:
        await connection.copy_records_to_table(
            "registration",
            records=rows,
            columns=(
                "id",
                "event_id",
                "member_id",
                "status",
                "link_nonce",
                "version",
                "created_at",
                "updated_at",
            ),
        )
        if status == "checked_in":
            await connection.execute(
                "UPDATE registration SET checked_in_at = $2 WHERE event_id = $1",
                uuid.UUID(event_id),
                now,
            )
        await connection.execute(
            "UPDATE event SET seats_held = $2 WHERE id = $1", uuid.UUID(event_id), len(rows)
        )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return [row[0] for row in rows]


def _open_event(
    client: httpx.Client,
    admin: dict[str, str],
    title: str,
    seats: int,
    starts: datetime,
    timepad_event_id: int | None = None,
    status: tuple[str, ...] = ("published", "registration_open"),
) -> str:
    created = client.post(
        "/api/v1/events",
        headers=admin,
        json={
            "title": title,
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=4)).isoformat(),
            "seats": seats,
            "timepad_event_id": timepad_event_id,
        },
    )
    _ok(created)
    event_id = str(created.json()["id"])
    for target in status:
        _ok(
            client.post(f"/api/v1/events/{event_id}/status", headers=admin, json={"status": target})
        )
    return event_id


def _ok(response: httpx.Response) -> None:
    if response.is_error:
        raise BenchFailure(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:500]}"
        )


def set_up(
    base_url: str, receiver_url: str, database_url: str, codec: TokenCodec, args: argparse.Namespace
) -> Setup:
    ids = asyncio.run(seed.member_ids_with_admin(database_url))
    admin_id, rest = ids[0], ids[1:]
    racers, rest = rest[:RACERS], rest[RACERS:]
    door, rest = rest[:DOOR], rest[DOOR:]
    attendees = rest[:ATTENDEES]
    admin = {"Authorization": f"Bearer {codec.issue(admin_id, ['admin', 'member'], 0)}"}
    now = datetime.now(UTC)
    with httpx.Client(base_url=base_url, timeout=60) as client:
        subscription = client.post(
            "/api/v1/webhooks",
            headers=admin,
            json={
                "url": f"{receiver_url}/hook",
                "event_types": [],
                "description": "event-day receiver",
            },
        )
        _ok(subscription)
        race_event = _open_event(
            client,
            admin,
            "Board of directors: spring session",
            RACE_SEATS,
            now + timedelta(days=30),
        )
        door_event = _open_event(
            client, admin, "Board of directors: today", DOOR + 50, now + timedelta(hours=1)
        )
        timepad_event = _open_event(
            client,
            admin,
            "Open conference (Timepad)",
            10_000,
            now + timedelta(days=14),
            TIMEPAD_EVENT,
        )
        past_event = _open_event(
            client,
            admin,
            "Board of directors: last session",
            ATTENDEES,
            now - timedelta(hours=5),
            status=("published",),
        )
        others = [
            _open_event(client, admin, f"Breakfast #{n}", 40, now + timedelta(days=n))
            for n in range(1, 5)
        ]
        door_registrations = asyncio.run(_seat_holders(database_url, door_event, door, "confirmed"))
        asyncio.run(_seat_holders(database_url, past_event, attendees, "checked_in"))
        survey = client.post(
            f"/api/v1/events/{past_event}/surveys/express", headers=admin, json={"language": "en"}
        )
        _ok(survey)

    def token(member: uuid.UUID) -> str:
        return codec.issue(member, ["member"], 0)

    plan = {
        "mode": "mix",
        "base_url": base_url,
        "duration_seconds": args.duration,
        "connections": args.connections,
        "browser_tokens": [token(m) for m in ids[-BROWSERS_TOKENS:]],
        "event_ids": [race_event, door_event, timepad_event, past_event, *others],
        "member_ids": [str(m) for m in ids[1 :: max(1, len(ids) // 500)]],
        "race": {
            "event_id": race_event,
            "tokens": [token(m) for m in racers],
            "at_seconds": min(10.0, args.duration / 4),
        },
        "door": {
            "staff_token": admin["Authorization"].removeprefix("Bearer "),
            "registration_ids": [str(r) for r in door_registrations],
            "scanners": 4,
            "pause_seconds": 0.5,
        },
        "timepad": {
            "secret": TIMEPAD_SECRET,
            "event_id": TIMEPAD_EVENT,
            "per_second": args.timepad_rate,
            "first_order_id": 1_000_000,
            "replay_share": 0.1,
            "max_in_flight": 64,
        },
        "survey": {
            "survey_id": str(survey.json()["id"]),
            "tokens": [token(m) for m in attendees],
            "concurrency": 4,
            "pause_seconds": 0.3,
            "at_seconds": min(5.0, args.duration / 6),
        },
    }
    return Setup(
        admin=admin["Authorization"],
        subscription_id=str(subscription.json()["id"]),
        race_event=race_event,
        door_event=door_event,
        past_event=past_event,
        timepad_event=timepad_event,
        survey_id=str(survey.json()["id"]),
        plan=plan,
    )


# -- the load process --------------------------------------------------------------------------


def run_client(plan: dict[str, Any], tmp: Path, name: str) -> dict[str, Any]:
    """Run bench/load_client.py in its own process with this plan; return its result."""
    plan_path, result_path = tmp / f"{name}.plan.json", tmp / f"{name}.result.json"
    plan_path.write_text(json.dumps(plan))
    completed = subprocess.run(
        [sys.executable, "-m", "bench.load_client", str(plan_path), str(result_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=plan["duration_seconds"] + 180,
        check=False,
    )
    if completed.returncode != 0:
        raise BenchFailure(
            f"the load process exited with {completed.returncode}:\n{completed.stderr[-3000:]}"
        )
    result: dict[str, Any] = json.loads(result_path.read_text())
    return result


@dataclass(frozen=True, slots=True)
class RouteFigures:
    route: str
    requests: int
    per_second: float
    p50: float
    p95: float
    p99: float
    statuses: dict[str, int]

    @property
    def server_errors(self) -> int:
        return sum(n for code, n in self.statuses.items() if code.startswith("5"))

    @property
    def transport_errors(self) -> int:
        return sum(n for code, n in self.statuses.items() if not code.isdigit())


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[round(share * 1000) - 1]


def figures(result: dict[str, Any]) -> list[RouteFigures]:
    rows = []
    for route, data in sorted(result["routes"].items()):
        latencies = data["latencies_ms"]
        requests = sum(data["statuses"].values())
        rows.append(
            RouteFigures(
                route=route,
                requests=requests,
                per_second=requests / result["seconds"],
                p50=percentile(latencies, 0.50),
                p95=percentile(latencies, 0.95),
                p99=percentile(latencies, 0.99),
                statuses=data["statuses"],
            )
        )
    return rows


def total(result: dict[str, Any]) -> RouteFigures:
    latencies = [v for data in result["routes"].values() for v in data["latencies_ms"]]
    statuses: Counter[str] = Counter()
    for data in result["routes"].values():
        statuses.update(data["statuses"])
    requests = sum(statuses.values())
    return RouteFigures(
        "all",
        requests,
        requests / result["seconds"],
        percentile(latencies, 0.50),
        percentile(latencies, 0.95),
        percentile(latencies, 0.99),
        dict(statuses),
    )


# -- after the run -----------------------------------------------------------------------------


async def _open_work(database_url: str) -> dict[str, int]:
    connection = await seed.connect(database_url)
    try:
        row = await connection.fetchrow(
            "SELECT (SELECT count(*) FROM outbox_event WHERE dispatched_at IS NULL) AS outbox,"
            " (SELECT count(*) FROM delivery WHERE status = 'pending' AND channel = 'webhook')"
            " AS deliveries,"
            " (SELECT count(*) FROM inbox_message WHERE processed_at IS NULL) AS inbox"
        )
        return dict(row)
    finally:
        await connection.close()


def drain(database_url: str) -> float:
    """Wait until the worker has dispatched every event and finished every webhook delivery,
    and the Timepad inbox is applied; return how long it took. (E-mails are not waited for:
    they are not what this benchmark checks.)"""
    started = time.monotonic()
    while any(asyncio.run(_open_work(database_url)).values()):
        if time.monotonic() - started > DRAIN_TIMEOUT_SECONDS:
            break
        time.sleep(0.25)
    return time.monotonic() - started


async def _invariants(
    database_url: str, setup: Setup, accepted_orders: list[int], received_ids: set[str]
) -> dict[str, Any]:
    connection = await seed.connect(database_url)
    try:
        overbooked = await connection.fetch(
            "SELECT e.id, e.title, e.seats, e.seats_held, count(r.id) AS firm "
            "FROM event e LEFT JOIN registration r ON r.event_id = e.id "
            " AND r.status IN ('confirmed', 'checked_in', 'offered') "
            "GROUP BY e.id HAVING count(r.id) > e.seats OR count(r.id) <> e.seats_held"
        )
        duplicates = await connection.fetchval(
            "SELECT count(*) FROM (SELECT event_id, member_id FROM registration "
            " WHERE member_id IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1) AS d"
        )
        duplicate_guests = await connection.fetchval(
            "SELECT count(*) FROM (SELECT event_id, guest_email FROM registration "
            " WHERE guest_email IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1) AS d"
        )
        race = dict(
            await connection.fetch(
                "SELECT status, count(*) FROM registration WHERE event_id = $1 GROUP BY status",
                uuid.UUID(setup.race_event),
            )
        )
        events = await connection.fetch(
            "SELECT id FROM outbox_event WHERE type <> 'webhook.ping' AND occurred_at >= "
            " (SELECT created_at FROM webhook_subscription WHERE id = $1)",
            uuid.UUID(setup.subscription_id),
        )
        delivered = {
            r["event_id"]
            for r in await connection.fetch(
                "SELECT DISTINCT event_id FROM delivery WHERE subscription_id = $1 "
                " AND status = 'succeeded'",
                uuid.UUID(setup.subscription_id),
            )
        }
        not_delivered = [r["id"] for r in events if r["id"] not in delivered]
        not_received = [r["id"] for r in events if f"msg_{r['id'].hex}" not in received_ids]
        orders = {
            r["timepad_order_id"]
            for r in await connection.fetch(
                "SELECT timepad_order_id FROM registration WHERE timepad_order_id IS NOT NULL"
            )
        }
        lost_orders = sorted(set(accepted_orders) - orders)
        unprocessed = await connection.fetchval(
            "SELECT count(*) FROM inbox_message WHERE processed_at IS NULL"
        )
        checked_in = await connection.fetchval(
            "SELECT count(*) FROM registration WHERE event_id = $1 AND status = 'checked_in'",
            uuid.UUID(setup.door_event),
        )
        answers = await connection.fetchval(
            "SELECT count(*) FROM survey_response WHERE survey_id = $1", uuid.UUID(setup.survey_id)
        )
        version = str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()
    return {
        "overbooked": [dict(r) for r in overbooked],
        "duplicates": duplicates,
        "duplicate_guests": duplicate_guests,
        "race": race,
        "events": len(events),
        "not_delivered": len(not_delivered),
        "not_received": len(not_received),
        "orders": len(orders),
        "accepted_orders": len(accepted_orders),
        "lost_orders": len(lost_orders),
        "unprocessed": unprocessed,
        "checked_in": checked_in,
        "answers": answers,
        "server_version": version,
    }


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """The resident set of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchFailure(f"no VmRSS for pid {pid}")


# -- the report --------------------------------------------------------------------------------


def machine() -> str:
    try:
        meminfo = Path("/proc/meminfo").read_text().split("\n", 1)[0]
        memory = f"{int(meminfo.split()[1]) / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        memory = "RAM unknown"
    return (
        f"{len(os.sched_getaffinity(0))} cores (nproc), {report.cpu_model()}, {memory}, "
        f"Python {platform.python_version()}"
    )


def _row(f: RouteFigures) -> str:
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(f.statuses.items()))
    return (
        f"| `{f.route}` | {f.requests:,} | {f.per_second:,.1f} | {f.p50:.1f} | "
        f"{f.p95:.1f} | {f.p99:.1f} | {statuses} |"
    )


def render(
    started: datetime,
    args: argparse.Namespace,
    mix: dict[str, Any],
    checks: dict[str, Any],
    ceiling: dict[str, RouteFigures],
    rss: tuple[float, float],
    drain_seconds: float,
    failures: list[str],
) -> str:
    everything = total(mix)
    browse = [f for f in figures(mix) if f.route.startswith("GET ")]
    browse_rate = sum(f.per_second for f in browse)
    read, bare = ceiling["read"], ceiling["ceiling"]
    lines = [
        "## Results: an event day under load",
        "",
        f"Measured {started:%Y-%m-%d %H:%M} UTC on {machine()}, PostgreSQL "
        f"{checks['server_version']}, {args.members:,} members. uvicorn with 1 worker "
        f"(`--backlog {BACKLOG}`), `python -m app.worker` delivering meanwhile, the receiver "
        "and the load process (httpx; the race's 200 on lean HTTP/1.1 connections) each in their "
        "own process, all on the same machine.",
        f"Reproduce: `.venv/bin/python -m bench.load` (here: `--duration {args.duration} "
        f"--connections {args.connections} --timepad-rate {args.timepad_rate:g}`).",
        "",
        f"**The mix** ({mix['seconds']:.0f} s): {args.connections} members browsing on closed "
        f"loops; at {args.duration / 4 if args.duration < 40 else 10:.0f} s, {RACERS} members "
        f"register and confirm at once for {RACE_SEATS} seats (one connection each); 4 door "
        f"scanners checking in {DOOR} confirmed registrations; Timepad paid orders at "
        f"{args.timepad_rate:g}/s (10 % sent twice); {ATTENDEES} attendees of the last event "
        "answering its express survey, 4 at a time.",
        "",
        f"uvicorn used {mix['api_cpu_seconds']:.1f} s of CPU during the mix "
        f"({mix['api_cpu_seconds'] / mix['seconds']:.2f} of a core; 1.00 means it was never "
        "short of CPU nor idle); the machine's load average was "
        f"{mix['load_average'][0]:.1f} before and {mix['load_average'][1]:.1f} after.",
        "",
        "| Route | Requests | Requests/s | p50 (ms) | p95 (ms) | p99 (ms) | Statuses |",
        "|---|---:|---:|---:|---:|---:|---|",
        *(_row(f) for f in figures(mix)),
        _row(everything).replace("`all`", "**all**"),
        "",
        f"Race: {_counts(mix['race'])}; door: {mix['checked_in']} checked in; survey: "
        f"{mix['answered']} answers; Timepad: {len(mix['timepad_accepted'])} distinct orders "
        "accepted.",
        "",
        "**Invariants** (checked in the database after the worker drained the outbox in "
        f"{drain_seconds:.1f} s):",
        "",
        "| Invariant | Result |",
        "|---|---|",
        f"| No overbooking: firm seats <= seats, and = the event's seat count, for every "
        f"event | {_verdict(not checks['overbooked'])} (race event: {_counts(checks['race'])}) |",
        f"| No duplicate registration (member or guest per event) | "
        f"{_verdict(not checks['duplicates'] and not checks['duplicate_guests'])} "
        f"({checks['duplicates']} + {checks['duplicate_guests']} duplicates) |",
        f"| No lost webhook: every outbox event has a successful delivery to the receiver's "
        f"subscription, and the receiver saw its webhook-id | "
        f"{_verdict(not checks['not_delivered'] and not checks['not_received'])} "
        f"({checks['events']:,} events; {checks['not_delivered']} undelivered, "
        f"{checks['not_received']} unseen) |",
        f"| No lost Timepad order: every accepted order is a registration | "
        f"{_verdict(not checks['lost_orders'] and not checks['unprocessed'])} "
        f"({checks['accepted_orders']} accepted, {checks['orders']} registrations, "
        f"{checks['lost_orders']} lost, {checks['unprocessed']} unprocessed) |",
        f"| No 5xx, no transport error | "
        f"{_verdict(not everything.server_errors and not everything.transport_errors)} "
        f"({everything.server_errors} 5xx, {everything.transport_errors} transport errors) |",
        "",
        f"**Against the ceiling** (same uvicorn, right after the mix, {args.connections} "
        f"connections, {args.ceiling_duration} s each):",
        "",
        "| Load | Requests/s | p50 (ms) | p95 (ms) | p99 (ms) | Statuses |",
        "|---|---:|---:|---:|---:|---|",
        _ceiling_row("Ceiling: `GET /bench/members/{id}`", bare),
        _ceiling_row("Full stack: `GET /api/v1/members/{id}`", read),
        f"| The mix, all routes | {everything.per_second:,.1f} | {everything.p50:.1f} | "
        f"{everything.p95:.1f} | {everything.p99:.1f} | |",
        f"| The mix, browsing routes only | {browse_rate:,.1f} | | | | |",
        "",
        f"Ratios: single read / ceiling **{read.per_second / bare.per_second:.0%}**; "
        f"the whole mix / ceiling **{everything.per_second / bare.per_second:.0%}**.",
        "",
        f"Memory of the API process (VmRSS): **{rss[0]:.0f} MB** after the mix, {rss[1]:.0f} MB "
        f"after the ceiling runs (target: under {RSS_TARGET_MB} MB: "
        f"{_verdict(max(rss) < RSS_TARGET_MB).lower()}).",
    ]
    if failures:
        lines += [
            "",
            "**Failed:** " + "; ".join(failures) + ".",
            *(f"- `{sample}`" for sample in mix.get("samples", [])[:5]),
        ]
    return "\n".join(lines) + "\n"


def _ceiling_row(label: str, f: RouteFigures) -> str:
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(f.statuses.items()))
    return (
        f"| {label} | {f.per_second:,.1f} | {f.p50:.1f} | {f.p95:.1f} | {f.p99:.1f} | {statuses} |"
    )


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"


def _verdict(ok: bool) -> str:
    return "Holds" if ok else "**FAILS**"


def failures_of(
    mix: dict[str, Any], checks: dict[str, Any], ceiling: dict[str, RouteFigures]
) -> list[str]:
    everything = total(mix)
    failed = []
    if checks["overbooked"]:
        failed.append(f"overbooking at {len(checks['overbooked'])} events")
    if checks["duplicates"] or checks["duplicate_guests"]:
        failed.append("duplicate registrations")
    if checks["not_delivered"] or checks["not_received"]:
        failed.append(
            f"{checks['not_delivered']} webhooks undelivered, "
            f"{checks['not_received']} not seen by the receiver"
        )
    if checks["lost_orders"] or checks["unprocessed"]:
        failed.append(f"{checks['lost_orders']} Timepad orders lost")
    errors = (
        everything.server_errors
        + everything.transport_errors
        + sum(f.server_errors + f.transport_errors for f in ceiling.values())
    )
    if errors:
        failed.append(f"{errors} requests with a 5xx or a transport error")
    return failed


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    print(f"Seeding {args.members} members into {make_url(args.database_url).database} ...")
    try:
        seed.prepare_database(args.database_url, args.members)
    except seed.DatabaseError as error:
        print(f"bench failed: {error}", file=sys.stderr)
        return 1
    secret = secrets.token_urlsafe(48)
    codec = TokenCodec(Settings(jwt_secret=secret, access_token_minutes=TOKEN_MINUTES))
    env = {
        "DL_WORKER_IN_PROCESS": "false",
        "DL_TIMEPAD_WEBHOOK_SECRET": TIMEPAD_SECRET,
        "DL_WEBHOOK_ALLOWED_HTTP_HOSTS": f'["{HOST}"]',
        # The worker looks for new events this often when idle (the default is 1 s).
        "DL_WORKER_IDLE_SECONDS": "0.2",
    }
    try:
        with (
            tempfile.TemporaryDirectory(prefix="dl-bench-load-") as tmp_name,
            receiver() as receiver_url,
            worker_processes(args.database_url, secret, 1, env),
        ):
            tmp = Path(tmp_name)
            with serve(
                args.database_url, secret, tmp / "uvicorn.log", env, ("--backlog", str(BACKLOG))
            ) as server:
                setup = set_up(server.base_url, receiver_url, args.database_url, codec, args)
                print(f"Running the mix for {args.duration} s ...")
                load_before = os.getloadavg()[0]
                cpu_before = cpu_seconds(server.pid)
                mix = run_client(setup.plan, tmp, "mix")
                mix["api_cpu_seconds"] = cpu_seconds(server.pid) - cpu_before
                mix["load_average"] = (load_before, os.getloadavg()[0])
                rss_after_mix = rss_mb(server.pid)
                for sample in mix["samples"]:
                    print(f"  failed: {sample}", file=sys.stderr)
                print(f"  {total(mix).requests:,} requests; draining the outbox ...")
                drain_seconds = drain(args.database_url)
                received = set(httpx.get(f"{receiver_url}/ids", timeout=30).json())
                checks = asyncio.run(
                    _invariants(args.database_url, setup, mix["timepad_accepted"], received)
                )
                target = setup.plan["member_ids"][0]
                ceiling = {}
                for key, route, path in (
                    ("ceiling", "GET /bench/members/{id}", f"/bench/members/{target}"),
                    ("read", "GET /api/v1/members/{id}", f"/api/v1/members/{target}"),
                ):
                    print(f"Loading {route} for {args.ceiling_duration} s ...")
                    plan = {
                        "mode": "single",
                        "base_url": server.base_url,
                        "duration_seconds": args.ceiling_duration,
                        "connections": args.connections,
                        "route": route,
                        "url": path,
                        "token": setup.plan["browser_tokens"][0],
                    }
                    result = run_client(plan, tmp, key)
                    ceiling[key] = figures(result)[0]
                    for sample in result["samples"]:
                        print(f"  failed: {sample}", file=sys.stderr)
                rss_after = rss_mb(server.pid)
                if any(f.statuses.get("500") for f in [*figures(mix), *ceiling.values()]):
                    print(f"uvicorn's log ends with:\n{tail(tmp / 'uvicorn.log')}", file=sys.stderr)
    except (BenchFailure, seed.DatabaseError, subprocess.TimeoutExpired) as error:
        print(f"bench failed: {error}", file=sys.stderr)
        return 1
    finally:
        seed.drop_database(args.database_url)
    failures = failures_of(mix, checks, ceiling)
    section = render(
        started, args, mix, checks, ceiling, (rss_after_mix, rss_after), drain_seconds, failures
    )
    report.write(section, marker="load")
    print(f"\n{section}\nWritten to {report.README.relative_to(ROOT)}.")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
