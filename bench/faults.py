"""``python -m bench.faults``: the service under faults, with uvicorn and load from separate
processes, each scenario bounded in time.

- ``database``: PostgreSQL stopped for 20 s under a mix of reads and registrations. Requests
  must fail fast (503 problem+json with Retry-After; none slower than 2 s), ``/readyz`` says
  503 while ``/healthz`` stays 200, no other 5xx, everything succeeds again within 10 s of the
  database's return, the worker resumes, and the database holds nothing half-written.
- ``kill``: 200 members register at once, each with an Idempotency-Key; the API process is
  killed (SIGKILL) mid-burst and started again; the clients retry with the same key until
  they get a definitive answer. Exactly one registration each, and every answer matches it.
- ``webhook``: two subscriptions, one receiver answering at once and one hanging 30 s per
  request; the same load with and without the hanging one. The healthy receiver's delivery
  latency and the API's latency must not suffer.

The database is a PostgreSQL cluster the benchmark owns (``--cluster``, created with
pg_createcluster when missing, started and stopped with pg_ctlcluster), never the one on
5432 that other work uses. Each scenario writes its section of bench/README.md; the exit
status is 1 when a target is missed.
"""

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import URL, make_url

from app.core.config import Settings
from app.core.security import TokenCodec
from bench import report, seed
from bench.outbox import receiver
from bench.run import HOST, BenchFailure, free_port, tail
from bench.seed import ROOT

DEFAULT_CLUSTER = "dlfaults"
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5439/dl_bench_faults"
SCENARIOS = ("database", "kill", "webhook")
STARTUP_TIMEOUT_SECONDS = 30.0
TOKEN_MINUTES = 24 * 60
PROBE_INTERVAL_SECONDS = 0.1

# Targets (issue 9, "Faults").
FAIL_FAST_SECONDS = 2.0
RECOVERY_SECONDS = 10.0
HANG_SECONDS = 30.0
WEBHOOK_TIMEOUT_SECONDS = Settings.model_fields["webhook_timeout_seconds"].default


def _run(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchFailure(
            f"{' '.join(command)} failed ({done.returncode}): "
            f"{done.stderr.strip() or done.stdout.strip()}"
        )
    return done.stdout


# -- the owned PostgreSQL cluster --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cluster:
    version: str
    name: str
    port: int

    def _ctl(self, *action: str) -> None:
        _run(["pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, *action])

    def running(self) -> bool:
        for line in _run(["pg_lsclusters", "--no-header"]).splitlines():
            parts = line.split()
            if parts[:2] == [self.version, self.name]:
                return parts[3] == "online"
        return False

    def start(self) -> None:
        if not self.running():
            self._ctl("start")

    def stop(self, mode: str) -> None:
        self._ctl("stop", "-m", mode)


def owned_cluster(name: str, port: int) -> Cluster:
    """The benchmark's own cluster, created on first use, started."""
    if port == 5432:
        raise BenchFailure(
            "refusing to stop the PostgreSQL on 5432: pass a --database-url "
            "on the benchmark's own port"
        )
    for line in _run(["pg_lsclusters", "--no-header"]).splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == name:
            if int(parts[2]) != port:
                raise BenchFailure(f"cluster {name} listens on {parts[2]}, not {port}")
            cluster = Cluster(parts[0], name, port)
            break
    else:
        versions = sorted(os.listdir("/usr/lib/postgresql"), key=lambda v: float(v))
        if not versions:
            raise BenchFailure("no PostgreSQL server installed (/usr/lib/postgresql)")
        cluster = Cluster(versions[-1], name, port)
        print(
            f"Creating the benchmark's PostgreSQL cluster {cluster.version}/{name} on port "
            f"{port} (pg_createcluster, trust authentication on the loopback) ..."
        )
        _run(["pg_createcluster", cluster.version, name, "-p", str(port), "--", "--auth=trust"])
    cluster.start()
    return cluster


# -- uvicorn -----------------------------------------------------------------------------------


@dataclass
class Server:
    """uvicorn on a fixed port, production settings, one worker, the worker in process."""

    database_url: str
    secret: str
    log: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    spawned_at: float = 0.0

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        env = (
            dict(os.environ)
            | {
                "DL_DATABASE_URL": self.database_url,
                "DL_JWT_SECRET": self.secret,
                "DL_ENVIRONMENT": "production",
                "DL_DOCS_ENABLED": "false",
                # Production refuses the development defaults. No mail server listens: e-mails
                # fail and are retried, which this benchmark does not measure.
                "DL_MAIL_TRANSPORT": "smtp",
                "DL_SMTP_HOST": "127.0.0.1",
                "DL_WEB_APP_URL": "https://app.bench.invalid",
                "DL_PUBLIC_API_URL": "https://api.bench.invalid",
            }
            | self.extra_env
        )
        command = [
            str(Path(sys.executable).parent / "uvicorn"),
            "app.asgi:app",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--no-server-header",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
            )
        self.spawned_at = time.time()
        # Generous: a restart happens under the retries of every waiting client.
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS * 2
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchFailure(
                    f"uvicorn exited with {self.process.returncode}:\n{tail(self.log)}"
                )
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=10.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise BenchFailure(
            f"uvicorn was not ready within {STARTUP_TIMEOUT_SECONDS * 2:.0f} s:\n{tail(self.log)}"
        )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(40)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def serving(server: Server) -> Iterator[Server]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Prober(threading.Thread):
    """Polls /readyz and /healthz (a load balancer's view) until stopped."""

    def __init__(self, base_url: str):
        super().__init__(daemon=True)
        self.base_url = base_url
        self.samples: list[tuple[float, str, int, float]] = []
        self.done = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            while not self.done.is_set():
                for path in ("/readyz", "/healthz"):
                    started = time.time()
                    try:
                        status = client.get(path).status_code
                    except httpx.HTTPError:
                        status = 0
                    self.samples.append((started, path, status, time.time() - started))
                self.done.wait(PROBE_INTERVAL_SECONDS)

    def stop(self) -> None:
        self.done.set()
        self.join()


# -- database helpers --------------------------------------------------------------------------


async def _connect(url: URL) -> asyncpg.Connection:
    return await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=url.database,
    )


def query(database_url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    async def go() -> list[asyncpg.Record]:
        connection = await _connect(make_url(database_url))
        try:
            return list(await connection.fetch(sql, *args))
        finally:
            await connection.close()

    return asyncio.run(go())


def prepare(database_url: str, members: int) -> list[str]:
    """A fresh database with ``members`` members, the first an admin; their ids."""
    seed.prepare_database(database_url, members)
    rows = query(database_url, "SELECT id FROM member ORDER BY id")
    ids = [str(r["id"]) for r in rows]
    query(
        database_url,
        "INSERT INTO member_role (member_id, role, granted_at) VALUES ($1, 'admin', now())",
        uuid.UUID(ids[0]),
    )
    return ids


def admin_headers(secret: str, admin: str) -> dict[str, str]:
    codec = TokenCodec(Settings(jwt_secret=secret, access_token_minutes=TOKEN_MINUTES))
    return {"Authorization": f"Bearer {codec.issue(uuid.UUID(admin), ['admin', 'member'], 0)}"}


def open_events(base_url: str, admin: dict[str, str], count: int, seats: int) -> list[str]:
    ids = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for n in range(count):
            starts = datetime.now(UTC) + timedelta(days=30 + n)
            created = client.post(
                "/api/v1/events",
                headers=admin,
                json={
                    "title": f"Fault drill {n + 1}",
                    "starts_at": starts.isoformat(),
                    "ends_at": (starts + timedelta(hours=4)).isoformat(),
                    "seats": seats,
                },
            )
            created.raise_for_status()
            event_id = created.json()["id"]
            for status in ("published", "registration_open"):
                client.post(
                    f"/api/v1/events/{event_id}/status", headers=admin, json={"status": status}
                ).raise_for_status()
            ids.append(event_id)
    return ids


INVARIANTS = {
    "registrations without their registration.created event": """
        SELECT count(*) FROM registration r WHERE NOT EXISTS (
          SELECT 1 FROM outbox_event o WHERE o.subject_id = r.id
            AND o.type = 'registration.created')""",
    "confirmed registrations without their registration.confirmed event": """
        SELECT count(*) FROM registration r WHERE r.status = 'confirmed' AND NOT EXISTS (
          SELECT 1 FROM outbox_event o WHERE o.subject_id = r.id
            AND o.type = 'registration.confirmed')""",
    "events whose seats_held differs from their seat-holding registrations": """
        SELECT count(*) FROM event e WHERE e.seats_held <> (
          SELECT count(*) FROM registration r WHERE r.event_id = e.id
            AND r.status IN ('confirmed', 'checked_in', 'offered'))""",
    "events holding more seats than they have": """
        SELECT count(*) FROM event e WHERE e.seats_held > e.seats""",
    "duplicate registrations (one member, one event)": """
        SELECT count(*) FROM (SELECT event_id, member_id FROM registration
          WHERE member_id IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1) d""",
    "waiting-list positions taken twice": """
        SELECT count(*) FROM (SELECT event_id, waitlist_position FROM registration
          WHERE waitlist_position IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1) d""",
}


def invariants(database_url: str) -> dict[str, int]:
    return {name: int(query(database_url, sql)[0][0]) for name, sql in INVARIANTS.items()}


def run_load(spec: dict[str, Any], work: Path) -> subprocess.Popen[bytes]:
    spec_file, out = work / f"{spec['mode']}-spec.json", work / f"{spec['mode']}-out.json"
    spec_file.write_text(json.dumps(spec))
    out.unlink(missing_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "bench.faults_load", str(spec_file), str(out)], cwd=ROOT
    )


def load_result(
    spec: dict[str, Any], work: Path, process: subprocess.Popen[bytes], timeout: float
) -> dict[str, Any]:
    try:
        code = process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise BenchFailure("the load process did not finish in time") from None
    if code != 0:
        raise BenchFailure(f"the load process exited with {code}")
    result: dict[str, Any] = json.loads((work / f"{spec['mode']}-out.json").read_text())
    return result


def percentile(values: Sequence[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def wait_for(check: Callable[[], bool], timeout: float, step: float = 0.2) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(step)
    return None


@dataclass
class Outcome:
    section: str
    missed: list[str]


def verdict(ok: bool) -> str:
    return "meets the target" if ok else "**misses the target**"


# -- scenario 1: the database stops ------------------------------------------------------------


def database_down(args: argparse.Namespace, cluster: Cluster, work: Path) -> Outcome:
    secret = uuid.uuid4().hex * 2
    members = prepare(args.database_url, args.members)
    server = Server(args.database_url, secret, work / "database-uvicorn.log")
    missed: list[str] = []
    with serving(server):
        events = open_events(server.base_url, admin_headers(secret, members[0]), 10, 400)
        spec = {
            "mode": "mix",
            "base_url": server.base_url,
            "secret": secret,
            "members": members[1:],
            "events": events,
            "tasks": args.tasks,
            "duration": args.warmup + args.outage + args.after,
            "write_share": 0.4,
            "pause": 0.02,
            "timeout": 30,
            "seed": 7,
        }
        prober = Prober(server.base_url)
        prober.start()
        load = run_load(spec, work)
        time.sleep(args.warmup)
        print(f"Stopping PostgreSQL ({args.stop_mode}) for {args.outage} s ...")
        stopped_at = time.time()
        cluster.stop(args.stop_mode)
        stop_took = time.time() - stopped_at
        time.sleep(max(0.0, args.outage - stop_took))
        starting_at = time.time()
        cluster.start()
        back_at = time.time()
        print(f"PostgreSQL is back after {back_at - stopped_at:.1f} s; load continues ...")
        result = load_result(spec, work, load, args.warmup + args.outage + args.after + 120)
        prober.stop()
        undispatched_sql = "SELECT count(*) FROM outbox_event WHERE dispatched_at IS NULL"
        drained = wait_for(lambda: query(args.database_url, undispatched_sql)[0][0] == 0, 60)
        alive = server.process is not None and server.process.poll() is None
    broken = invariants(args.database_url)
    writes_check = _check_writes(args.database_url, result["writes"])

    requests = result["requests"]
    before = [r for r in requests if r[0] + r[1] < stopped_at]
    # In flight at the stop, or sent before the start command was given.
    during = [r for r in requests if r[0] + r[1] >= stopped_at and r[0] < starting_at]
    after = [r for r in requests if r[0] >= back_at]
    first_503 = min(
        (r[0] + r[1] for r in requests if r[3] == 503 and r[0] + r[1] >= stopped_at), default=None
    )
    fail_fast = first_503 - stopped_at if first_503 is not None else float("inf")
    slowest = max((r[1] for r in during), default=0.0)
    bad_503 = sum(1 for r in requests if r[3] == 503 and not (r[4] and r[5]))
    other_5xx = Counter(r[3] for r in requests if r[3] >= 500 and r[3] != 503)
    transport = Counter(r[6] for r in requests if r[3] == 0)
    failures_after = [r for r in after if r[3] == 0 or r[3] >= 500]
    last_failure = max((r[0] + r[1] for r in failures_after), default=None)
    first_success = min((r[0] + r[1] for r in after if 200 <= r[3] < 300), default=None)
    recovered = (
        (last_failure - back_at)
        if last_failure is not None
        else ((first_success - back_at) if first_success is not None else float("inf"))
    )
    ready = [s for s in prober.samples if s[1] == "/readyz"]
    live = [s for s in prober.samples if s[1] == "/healthz"]
    ready_down = min(
        (s[0] + s[3] for s in ready if s[0] >= stopped_at and s[2] == 503), default=None
    )
    ready_back = min((s[0] + s[3] for s in ready if s[0] >= back_at and s[2] == 200), default=None)
    ready_wrong = sum(
        1
        for s in ready
        if stopped_at + FAIL_FAST_SECONDS <= s[0] and s[0] + s[3] < starting_at and s[2] != 503
    )
    live_wrong = sum(1 for s in live if s[2] != 200)
    slowest_probe = max(
        (s[3] for s in prober.samples if stopped_at <= s[0] < starting_at), default=0.0
    )
    outage_statuses = Counter(r[3] for r in during)
    broken_total = sum(broken.values()) + writes_check["mismatched"]

    checks = [
        (
            "first 503 after the stop",
            f"{fail_fast:.2f} s",
            f"<= {FAIL_FAST_SECONDS:.0f} s",
            fail_fast <= FAIL_FAST_SECONDS,
        ),
        (
            "slowest request during the outage",
            f"{slowest:.2f} s",
            f"<= {FAIL_FAST_SECONDS:.0f} s",
            slowest <= FAIL_FAST_SECONDS,
        ),
        ("503 without Retry-After or problem+json", str(bad_503), "0", bad_503 == 0),
        ("other 5xx", str(sum(other_5xx.values())), "0", not other_5xx),
        ("dropped connections (no answer)", str(sum(transport.values())), "0", not transport),
        (
            "/readyz 503 after the stop",
            f"{ready_down - stopped_at:.2f} s" if ready_down else "never",
            f"<= {FAIL_FAST_SECONDS:.0f} s",
            ready_down is not None and ready_down - stopped_at <= FAIL_FAST_SECONDS,
        ),
        ("/readyz not 503 during the outage", str(ready_wrong), "0", ready_wrong == 0),
        ("/healthz not 200 at any time", str(live_wrong), "0", live_wrong == 0),
        (
            "slowest probe during the outage",
            f"{slowest_probe:.2f} s",
            f"<= {FAIL_FAST_SECONDS:.0f} s",
            slowest_probe <= FAIL_FAST_SECONDS,
        ),
        (
            "all requests succeed again after the return",
            f"{recovered:.2f} s",
            f"<= {RECOVERY_SECONDS:.0f} s",
            recovered <= RECOVERY_SECONDS,
        ),
        (
            "/readyz 200 after the return",
            f"{ready_back - back_at:.2f} s" if ready_back else "never",
            f"<= {RECOVERY_SECONDS:.0f} s",
            ready_back is not None and ready_back - back_at <= RECOVERY_SECONDS,
        ),
        (
            "worker: outbox drained after the load",
            f"{drained:.1f} s" if drained is not None else "not within 60 s",
            "<= 60 s",
            drained is not None,
        ),
        ("API process alive at the end", "yes" if alive else "no", "yes", alive),
        ("half-written or inconsistent rows", str(broken_total), "0", broken_total == 0),
    ]
    missed += [name for name, _, _, ok in checks if not ok]
    lines = [
        "## Faults: PostgreSQL stopped under load",
        "",
        _measured_on(args),
        f"uvicorn (1 worker, production settings, the worker in process) on the benchmark's "
        f"own cluster; a separate load process with {args.tasks} tasks: reads (event list, "
        "an event, a member page) and registrations (Idempotency-Key, then confirm), retried "
        "after Retry-After until a definitive answer. PostgreSQL stopped "
        f"(`pg_ctlcluster stop -m {args.stop_mode}`, {stop_took:.1f} s) "
        f"{args.warmup} s into the load, started again {starting_at - stopped_at:.1f} s "
        f"later (accepting connections {back_at - stopped_at:.1f} s after the stop); load for "
        f"{args.after} s more. Command: `python -m bench.faults --scenario database`.",
        "",
        f"Requests: {len(before)} before the stop, {len(during)} during the outage "
        f"(statuses {dict(sorted(outage_statuses.items()))}), {len(after)} after; writes "
        f"{writes_check['summary']}.",
        "",
        "| Check | Measured | Target | Verdict |",
        "|---|---:|---:|---|",
    ]
    lines += [
        f"| {name} | {value} | {target} | {verdict(ok)} |" for name, value, target, ok in checks
    ]
    details = [f"{name}: {count}" for name, count in broken.items() if count]
    if writes_check["mismatched"]:
        details.append(f"answers not matching the database: {writes_check['mismatched']}")
    if other_5xx or transport:
        details.append(f"other 5xx {dict(other_5xx)}, transport errors {dict(transport)}")
    if details:
        lines += ["", "Found: " + "; ".join(details) + "."]
    return Outcome("\n".join(lines) + "\n", missed)


def _check_writes(database_url: str, writes: list[dict[str, Any]]) -> dict[str, Any]:
    """Each write's final answer against the database: a 201 is a row with that id, a
    confirmation's status is the row's, a 409 (registered already) has its row."""
    rows = {
        (str(r["member_id"]), str(r["event_id"])): (str(r["id"]), r["status"])
        for r in query(database_url, "SELECT id, member_id, event_id, status FROM registration")
    }
    answers = Counter(w.get("register") for w in writes)
    mismatched = 0
    for write in writes:
        row = rows.get((write["member"], write["event"]))
        if write.get("register") == 201:
            ok = row is not None and row[0] == write["id"]
            if ok and write.get("status"):
                ok = row is not None and row[1] == write["status"]
        elif write.get("register") == 409:
            ok = row is not None
        elif write.get("register") in (0, 503):
            ok = True  # gave up without an answer: either outcome is possible
        else:
            ok = row is None
        mismatched += not ok
    summary = ", ".join(f"{count} answered {code}" for code, count in sorted(answers.items()))
    return {"mismatched": mismatched, "summary": summary or "none"}


# -- scenario 2: the API process is killed ------------------------------------------------------


def killed_mid_burst(args: argparse.Namespace, cluster: Cluster, work: Path) -> Outcome:
    secret = uuid.uuid4().hex * 2
    members = prepare(args.database_url, args.clients + 1)
    log = work / "kill-uvicorn.log"
    server = Server(args.database_url, secret, log)
    missed: list[str] = []
    with serving(server):
        [event] = open_events(
            server.base_url, admin_headers(secret, members[0]), 1, args.clients // 2
        )
        ready = work / "clients-ready"
        ready.unlink(missing_ok=True)
        spec = {
            "mode": "clients",
            "base_url": server.base_url,
            "secret": secret,
            "members": members[1:],
            "event": event,
            "deadline": args.kill_deadline,
            "timeout": 30,
            "ready_file": str(ready),
        }
        load = run_load(spec, work)
        wait_for(ready.exists, 60, 0.01)
        count_sql = "SELECT count(*) FROM registration"
        threshold = max(1, args.clients // 5)
        wait_for(lambda: query(args.database_url, count_sql)[0][0] >= threshold, 60, 0.005)
        in_flight = query(
            args.database_url,
            "SELECT count(*) FROM idempotency_record WHERE response_status IS NULL",
        )[0][0]
        server.kill()
        killed_at = time.time()
        at_kill = query(args.database_url, count_sql)[0][0]
        print(
            f"Killed uvicorn with {at_kill} of {args.clients} registrations stored; restarting ..."
        )
        time.sleep(args.down)
        server.start()
        restarted_at = server.spawned_at
        result = load_result(spec, work, load, args.kill_deadline + 60)
    clients = result["clients"]
    rows = {
        str(r["member_id"]): (str(r["id"]), r["status"], r["n"])
        for r in query(
            args.database_url,
            "SELECT member_id, min(id::text) AS id, min(status) AS status, count(*) AS n "
            "FROM registration WHERE event_id = $1 GROUP BY member_id",
            uuid.UUID(event),
        )
    }
    exactly_one = sum(1 for c in clients if rows.get(c["member"], ("", "", 0))[2] == 1)
    finals = Counter(c["status_code"] for c in clients)
    matched = 0
    for c in clients:
        row = rows.get(c["member"])
        if row is None:
            continue
        if c["status_code"] == 201:
            matched += row[0] == c["id"] and row[1] == c["status"]
        elif c["status_code"] == 409 and c.get("type") == "/problems/conflict":
            matched += 1  # "registered already": true, the first attempt committed
    replayed = sum(1 for c in clients if c.get("replayed"))
    conflicts = sum(
        1 for c in clients if c["status_code"] == 409 and c.get("type") == "/problems/conflict"
    )
    in_flight_answers = sum(1 for r in result["requests"] if r[3] == 409)
    attempts = [c["attempts"] for c in clients]
    done_after = max((c["at"] for c in clients), default=restarted_at) - restarted_at
    # A client has its answer a moment before the outcome is stored: give the last ones time.
    in_flight_sql = "SELECT count(*) FROM idempotency_record WHERE response_status IS NULL"
    wait_for(lambda: query(args.database_url, in_flight_sql)[0][0] == 0, 10)
    stuck = query(args.database_url, in_flight_sql)[0][0]
    broken = invariants(args.database_url)
    broken_total = sum(broken.values())
    lease = Settings(jwt_secret=secret).idempotency_lease_seconds
    checks = [
        (
            "clients with exactly one registration",
            f"{exactly_one} of {len(clients)}",
            f"{len(clients)}",
            exactly_one == len(clients),
        ),
        (
            "final answers matching the database row",
            f"{matched} of {len(clients)}",
            f"{len(clients)}",
            matched == len(clients),
        ),
        (
            "every client answered within the deadline",
            f"{sum(1 for c in clients if c['status_code'] in (201, 409))} of {len(clients)}",
            f"{len(clients)}",
            all(c["status_code"] in (201, 409) for c in clients),
        ),
        ("in-flight idempotency records left", str(stuck), "0", stuck == 0),
        ("inconsistent rows (invariants)", str(broken_total), "0", broken_total == 0),
    ]
    missed += [name for name, _, _, ok in checks if not ok]
    lines = [
        "## Faults: the API process killed mid-burst",
        "",
        _measured_on(args),
        f"{args.clients} members register for one event ({args.clients // 2} seats) at the "
        "same instant, each with its own Idempotency-Key, from a separate process; uvicorn "
        f"(1 worker, production settings) is killed with SIGKILL once {threshold} "
        f"registrations are stored ({at_kill} at the kill, {in_flight} keys in flight just "
        f"before), started again {restarted_at - killed_at:.1f} s later; the clients retry "
        "(same key, same body) until a definitive answer. Command: "
        "`python -m bench.faults --scenario kill`.",
        "",
        f"Final answers: {dict(sorted(finals.items()))} ({replayed} replayed, {conflicts} "
        f"'registered already' for a first attempt that committed before the kill); "
        f"409 in flight seen {in_flight_answers} times; attempts per client median "
        f"{statistics.median(attempts):.0f}, max {max(attempts)}; last client answered "
        f"{done_after:.1f} s after the restart (keys left in flight by the killed process "
        f"are free again after {lease} s, DL_IDEMPOTENCY_LEASE_SECONDS).",
        "",
        "| Check | Measured | Target | Verdict |",
        "|---|---:|---:|---|",
    ]
    lines += [
        f"| {name} | {value} | {target} | {verdict(ok)} |" for name, value, target, ok in checks
    ]
    return Outcome("\n".join(lines) + "\n", missed)


# -- scenario 3: a receiver hangs ----------------------------------------------------------------


def hanging_receiver(args: argparse.Namespace, cluster: Cluster, work: Path) -> Outcome:
    secret = uuid.uuid4().hex * 2
    members = prepare(args.database_url, args.members)
    server = Server(
        args.database_url,
        secret,
        work / "webhook-uvicorn.log",
        {"DL_WEBHOOK_ALLOWED_HTTP_HOSTS": f'["{HOST}"]'},
    )
    phases: dict[str, dict[str, Any]] = {}
    with receiver(0) as healthy, receiver(HANG_SECONDS) as hanging, serving(server):
        events = open_events(server.base_url, admin_headers(secret, members[0]), 4, 10000)
        _subscribe(args.database_url, f"{healthy}/hook")
        for phase, event_ids in (("without", events[:2]), ("with", events[2:])):
            if phase == "with":
                _subscribe(args.database_url, f"{hanging}/hook")
            started = time.time()
            spec = {
                "mode": "mix",
                "base_url": server.base_url,
                "secret": secret,
                "members": members[1:],
                "events": event_ids,
                "tasks": args.tasks,
                "duration": args.webhook_duration,
                "write_share": 0.3,
                "pause": 0.1,
                "timeout": 30,
                "seed": 11,
            }
            spec["tasks"] = max(1, args.tasks // 2)  # a steady load, not a saturating one
            load = run_load(spec, work)
            result = load_result(spec, work, load, args.webhook_duration + 120)
            emitted = {
                f"msg_{uuid.UUID(str(r['id'])).hex}": r["occurred_at"].timestamp()
                for r in query(
                    args.database_url,
                    "SELECT id, occurred_at FROM outbox_event "
                    "WHERE occurred_at >= to_timestamp($1)",
                    started,
                )
            }

            wait_for(partial(_arrived, f"{healthy}/arrivals", set(emitted)), 60, 0.5)
            arrivals = httpx.get(f"{healthy}/arrivals", timeout=10).json()
            latencies = [arrivals[m] - t for m, t in emitted.items() if m in arrivals]
            api = [r[1] for r in result["requests"]]
            phases[phase] = {
                "events": len(emitted),
                "delivered": len(latencies),
                "delivery_p50": percentile(latencies, 0.5),
                "delivery_p99": percentile(latencies, 0.99),
                "delivery_max": max(latencies, default=float("nan")),
                "api_p50": percentile(api, 0.5),
                "api_p99": percentile(api, 0.99),
                "requests": len(api),
                "errors": sum(1 for r in result["requests"] if r[3] == 0 or r[3] >= 500),
            }
        hanging_attempts = query(
            args.database_url, "SELECT count(*) FROM delivery_attempt WHERE error = 'timeout'"
        )[0][0]
    without, with_ = phases["without"], phases["with"]
    # Twice the figure without the hang (2 s at least), and below the webhook timeout: a
    # worker that waited for the hanging receiver would deliver the others that late.
    delivery_target = min(WEBHOOK_TIMEOUT_SECONDS, max(2.0, 2 * without["delivery_p99"]))
    api_target = 2 * without["api_p99"] + 0.05
    checks = [
        (
            "healthy receiver got every event",
            f"{with_['delivered']} of {with_['events']}",
            f"{with_['events']}",
            with_["delivered"] == with_["events"],
        ),
        (
            "healthy receiver's delivery p99 with the hang",
            f"{with_['delivery_p99']:.2f} s",
            f"<= {delivery_target:.2f} s",
            with_["delivery_p99"] <= delivery_target,
        ),
        (
            "API p99 with the hang",
            f"{with_['api_p99'] * 1000:.0f} ms",
            f"<= {api_target * 1000:.0f} ms",
            with_["api_p99"] <= api_target,
        ),
        (
            "5xx or dropped requests",
            str(without["errors"] + with_["errors"]),
            "0",
            without["errors"] + with_["errors"] == 0,
        ),
    ]
    missed = [name for name, _, _, ok in checks if not ok]
    lines = [
        "## Faults: a webhook receiver that hangs",
        "",
        _measured_on(args),
        f"uvicorn (1 worker, production settings, the worker in process); two receivers in "
        f"their own processes, one answering at once, one holding every request "
        f"{HANG_SECONDS:.0f} s; load from a separate process ({max(1, args.tasks // 2)} tasks, "
        f"{args.webhook_duration} s per phase: reads, registrations and confirmations, each "
        "emitting an event). Delivery latency: the event's time to its first arrival at the "
        "healthy receiver. Command: `python -m bench.faults --scenario webhook`.",
        "",
        "| Phase | Events | API requests | API p50 | API p99 | Delivery p50 | Delivery p99 "
        "| Delivery max |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, label in (
        ("without", "healthy receiver only"),
        ("with", "plus the hanging receiver"),
    ):
        p = phases[name]
        lines.append(
            f"| {label} | {p['events']} | {p['requests']} | "
            f"{p['api_p50'] * 1000:.0f} ms | {p['api_p99'] * 1000:.0f} ms | "
            f"{p['delivery_p50']:.2f} s | {p['delivery_p99']:.2f} s | "
            f"{p['delivery_max']:.2f} s |"
        )
    lines += [
        "",
        f"Attempts to the hanging receiver that timed out: {hanging_attempts}.",
        "",
        "| Check | Measured | Target | Verdict |",
        "|---|---:|---:|---|",
    ]
    lines += [
        f"| {name} | {value} | {target} | {verdict(ok)} |" for name, value, target, ok in checks
    ]
    return Outcome("\n".join(lines) + "\n", missed)


def _arrived(url: str, names: set[str]) -> bool:
    return names <= set(httpx.get(url, timeout=10).json())


def _subscribe(database_url: str, url: str) -> None:
    now = datetime.now(UTC)
    query(
        database_url,
        "INSERT INTO webhook_subscription (id, url, description, event_types, enabled, "
        "secret, created_at, updated_at, version) VALUES ($1, $2, '', '[]', true, $3, "
        "$4, $4, 1)",
        uuid.uuid4(),
        url,
        "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        now,
    )


def _measured_on(args: argparse.Namespace) -> str:
    version = query(args.database_url, "SHOW server_version")[0][0]
    return (
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs "
        f"({report.cpu_model()}), PostgreSQL {version}."
    )


# -- command line --------------------------------------------------------------------------------


RUNNERS = {"database": database_down, "kill": killed_mid_burst, "webhook": hanging_receiver}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.faults",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scenario", choices=(*SCENARIOS, "all"), default="all")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_FAULTS_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="database on the benchmark's own cluster, dropped and created per scenario; "
        "its name must contain 'bench' (default: %(default)s)",
    )
    parser.add_argument(
        "--cluster", default=DEFAULT_CLUSTER, help="the owned cluster's name (default: %(default)s)"
    )
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--tasks", type=int, default=16, help="load tasks (default: 16)")
    parser.add_argument("--warmup", type=int, default=8, metavar="SECONDS")
    parser.add_argument("--outage", type=int, default=20, metavar="SECONDS")
    parser.add_argument(
        "--after",
        type=int,
        default=20,
        metavar="SECONDS",
        help="load after the database returns (default: %(default)s)",
    )
    parser.add_argument("--stop-mode", choices=("fast", "immediate"), default="fast")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument(
        "--down",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="how long the killed API stays down (default: %(default)s)",
    )
    parser.add_argument("--kill-deadline", type=int, default=120, metavar="SECONDS")
    parser.add_argument("--webhook-duration", type=int, default=30, metavar="SECONDS")
    parser.add_argument(
        "--keep", metavar="DIR", help="keep the uvicorn logs and the load's records in DIR"
    )
    args = parser.parse_args(argv)
    url = make_url(args.database_url)
    if "bench" not in (url.database or ""):
        parser.error("refusing to drop a database whose name does not contain 'bench'")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    url = make_url(args.database_url)
    missed: dict[str, list[str]] = {}
    try:
        cluster = owned_cluster(args.cluster, url.port or 5432)
        chosen = SCENARIOS if args.scenario == "all" else (args.scenario,)
        with tempfile.TemporaryDirectory(prefix="dl-faults-") as tmp:
            if args.keep:
                tmp = args.keep
                Path(tmp).mkdir(parents=True, exist_ok=True)
            for name in chosen:
                print(f"Scenario {name} ...")
                try:
                    outcome = RUNNERS[name](args, cluster, Path(tmp))
                finally:
                    cluster.start()  # whatever happened, leave the cluster running
                    try:
                        seed.drop_database(args.database_url)
                    except seed.DatabaseError as error:
                        print(f"could not drop the database: {error}", file=sys.stderr)
                print(outcome.section)
                report.write(outcome.section, marker=f"faults-{name}")
                if outcome.missed:
                    missed[name] = outcome.missed
    except (BenchFailure, seed.DatabaseError) as error:
        print(f"bench failed: {error}", file=sys.stderr)
        return 1
    for name, checks in missed.items():
        print(f"{name}: missed {', '.join(checks)}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
