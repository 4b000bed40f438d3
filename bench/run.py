"""``python -m bench.run``: seed PostgreSQL, serve the app with uvicorn, load it with wrk.

Six endpoints are loaded in interleaved rounds: the full-stack single read and list, the
ceiling routes that fetch the same rows through raw asyncpg, and the peer routes written the
way a plain FastAPI + SQLModel CRUD app would (bench/ceiling_routes.py). Besides requests/s,
each round measures the server process's CPU time (utime + stime from /proc) per request,
which moves far less with the machine's other load. The medians go into the results section
of bench/README.md. The database is dropped and uvicorn stopped at the end, also on error or
Ctrl-C.
"""

import argparse
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from app.core.config import Settings
from app.core.security import TokenCodec
from bench import report, seed
from bench.profile import ProfileError, find_py_spy, profile
from bench.report import Comparison, Endpoint, Run, Summary
from bench.seed import ROOT
from bench.wrk import WrkError, WrkResult, WrkSettings, find_wrk, run_wrk

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/dl_bench"
HOST = "127.0.0.1"
LIST_LIMIT = 50
STARTUP_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
# Long enough for any chosen duration; the server checks only the signature and expiry.
TOKEN_MINUTES = 24 * 60
LOG_TAIL_CHARS = 3000

ENDPOINTS = (
    Endpoint("read", "Single read, full stack", "/api/v1/members/{id}"),
    Endpoint("read_ceiling", "Single read, ceiling", "/bench/members/{id}"),
    Endpoint("read_peer", "Single read, peer", "/bench/peer/members/{id}"),
    Endpoint("list", "List of 50, full stack", f"/api/v1/members?limit={LIST_LIMIT}"),
    Endpoint("list_ceiling", "List of 50, ceiling", f"/bench/members?limit={LIST_LIMIT}"),
    Endpoint("list_peer", "List of 50, peer", f"/bench/peer/members?limit={LIST_LIMIT}"),
)
COMPARISONS = (
    Comparison("Single read", full_stack="read", ceiling="read_ceiling", target=0.60),
    Comparison("List of 50", full_stack="list", ceiling="list_ceiling", target=0.50),
    # The peer as the "ceiling": the product must be ahead of what a user would write instead.
    Comparison("Single read vs peer", full_stack="read", ceiling="read_peer", target=1.0),
    Comparison("List of 50 vs peer", full_stack="list", ceiling="list_peer", target=1.0),
)


class BenchFailure(RuntimeError):
    """The benchmark cannot produce trustworthy figures."""


@dataclass(frozen=True, slots=True)
class Server:
    base_url: str
    pid: int


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--duration",
        type=int,
        default=15,
        metavar="SECONDS",
        help="length of one wrk run (default: %(default)s)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="interleaved rounds per endpoint (default: %(default)s)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=3,
        metavar="SECONDS",
        help="unrecorded wrk run per endpoint first; 0 skips (default: %(default)s)",
    )
    parser.add_argument(
        "--connections", type=int, default=16, help="wrk connections (default: %(default)s)"
    )
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default: %(default)s)")
    parser.add_argument(
        "--members", type=int, default=1000, help="members to seed (default: %(default)s)"
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="SECONDS",
        help="afterwards, sample uvicorn with py-spy under the load of --profile-endpoint "
        "for SECONDS and print the hotspots (default: off)",
    )
    parser.add_argument(
        "--profile-endpoint",
        choices=[e.key for e in ENDPOINTS],
        default="read",
        help="the endpoint --profile loads (default: %(default)s)",
    )
    seed.add_database_argument(parser, DEFAULT_DATABASE_URL)
    args = parser.parse_args(argv)
    if min(args.duration, args.rounds, args.connections, args.threads) < 1:
        parser.error("--duration, --rounds, --connections and --threads must be positive")
    if min(args.warmup, args.profile) < 0:
        parser.error("--warmup and --profile must not be negative")
    if args.members < LIST_LIMIT:
        parser.error(f"--members must be at least {LIST_LIMIT} to fill a list page")
    seed.refuse_unless_bench(parser, args.database_url)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wrk = find_wrk()
    py_spy = find_py_spy() if args.profile else ""
    started = datetime.now(UTC)
    print(f"Seeding {args.members} members into {make_url(args.database_url).database} ...")
    try:
        seeded = seed.prepare_database(args.database_url, args.members)
    except seed.DatabaseError as error:
        print(f"bench failed: {error}", file=sys.stderr)
        return 1
    hot = ""
    try:
        secret = secrets.token_urlsafe(48)
        codec = TokenCodec(Settings(jwt_secret=secret, access_token_minutes=TOKEN_MINUTES))
        token = codec.issue(seeded.viewer_id, ["member"], 0)
        with tempfile.TemporaryDirectory(prefix="dl-bench-") as tmp:
            log = Path(tmp) / "uvicorn.log"
            with serve(args.database_url, secret, log) as server:
                urls = {
                    e.key: server.base_url + e.route.format(id=seeded.target_id) for e in ENDPOINTS
                }
                for endpoint in ENDPOINTS:
                    check(urls[endpoint.key], token, endpoint, seeded.target_id, log)
                results = measure(wrk, urls, token, args, server.pid)
                if args.profile:
                    print(f"Profiling {args.profile_endpoint} for {args.profile} s ...")
                    load = WrkSettings(args.threads, args.connections, args.profile)
                    hot = profile(
                        py_spy,
                        server.pid,
                        args.profile,
                        lambda: run_wrk(wrk, urls[args.profile_endpoint], token, load),
                    )
    except (BenchFailure, WrkError, ProfileError) as error:
        print(f"bench failed: {error}", file=sys.stderr)
        return 1
    finally:
        seed.drop_database(args.database_url)

    run = Run(
        endpoints=ENDPOINTS,
        comparisons=COMPARISONS,
        summaries={key: Summary.of(*zip(*values, strict=True)) for key, values in results.items()},
        wrk=WrkSettings(args.threads, args.connections, args.duration),
        rounds=args.rounds,
        warmup_seconds=args.warmup,
        members=seeded.members,
        postgres_version=seeded.server_version,
        started=started,
    )
    section = report.render(run)
    report.write(section)
    print(f"\n{section}\nWritten to {report.README.relative_to(ROOT)}.")
    if args.profile:
        print(f"\nHotspots of {args.profile_endpoint} under load (py-spy):\n{hot}")
    failures = sum(s.non_2xx + s.socket_errors for s in run.summaries.values())
    if failures:
        print(f"{failures} failed requests: these figures are not trustworthy.", file=sys.stderr)
        return 1
    return 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve(
    database_url: str,
    secret: str,
    log: Path,
    extra_env: dict[str, str] | None = None,
    extra_args: Sequence[str] = (),
    workers: int = 1,
) -> Iterator[Server]:
    """Run uvicorn (``workers`` processes on one socket) on a free port until the block ends."""
    port = free_port()
    env = (
        dict(os.environ)
        | {
            "DL_DATABASE_URL": database_url,
            "DL_JWT_SECRET": secret,
            "DL_ENVIRONMENT": "production",
            "DL_DOCS_ENABLED": "false",
            # Production refuses the development defaults. No mail server listens: e-mails
            # fail and are retried, which this benchmark does not measure.
            "DL_MAIL_TRANSPORT": "smtp",
            "DL_SMTP_HOST": "127.0.0.1",
            "DL_WEB_APP_URL": "https://app.bench.invalid",
            "DL_PUBLIC_API_URL": "https://api.bench.invalid",
        }
        | (extra_env or {})
    )
    command = [
        str(Path(sys.executable).parent / "uvicorn"),
        "bench.ceiling_routes:app",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-server-header",
        "--no-access-log",
        "--log-level",
        "warning",
        *extra_args,
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        base_url = f"http://{HOST}:{port}"
        wait_until_healthy(base_url, process, log)
        print(f"uvicorn (pid {process.pid}) serves {base_url}")
        yield Server(base_url, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_healthy(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchFailure(f"uvicorn exited with {process.returncode}:\n{tail(log)}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise BenchFailure(
        f"uvicorn did not answer /healthz within {STARTUP_TIMEOUT_SECONDS:.0f} s:\n{tail(log)}"
    )


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-LOG_TAIL_CHARS:]


def check(url: str, token: str, endpoint: Endpoint, target_id: uuid.UUID, log: Path) -> None:
    """One request before the load: 200, and the page or member the load will fetch."""
    response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10.0)
    if response.status_code != 200:
        raise BenchFailure(
            f"GET {endpoint.route} answered {response.status_code}: "
            f"{response.text[:500]}\n{tail(log)}"
        )
    body = response.json()
    if "items" in body:
        if len(body["items"]) != LIST_LIMIT:
            raise BenchFailure(
                f"GET {endpoint.route} returned {len(body['items'])} items, not {LIST_LIMIT}"
            )
    elif body.get("id") != str(target_id):
        raise BenchFailure(f"GET {endpoint.route} returned another member: {body.get('id')}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    wrk: str, urls: dict[str, str], token: str, args: argparse.Namespace, server_pid: int
) -> dict[str, list[tuple[WrkResult, float]]]:
    """Warm every endpoint up, then load them in rounds; return each endpoint's results with
    the server's CPU microseconds per request of that round."""
    if args.warmup:
        print(f"Warming up ({args.warmup} s per endpoint) ...")
        warmup = WrkSettings(args.threads, args.connections, args.warmup)
        for endpoint in ENDPOINTS:
            run_wrk(wrk, urls[endpoint.key], token, warmup)
    settings = WrkSettings(args.threads, args.connections, args.duration)
    print(f"Measuring: {settings.describe()}, {args.rounds} rounds of {len(ENDPOINTS)} endpoints")
    results: dict[str, list[tuple[WrkResult, float]]] = {e.key: [] for e in ENDPOINTS}
    for index in range(args.rounds):
        # Rotating the order spreads any drift (caches, clock speed) over all endpoints.
        shift = index % len(ENDPOINTS)
        for endpoint in ENDPOINTS[shift:] + ENDPOINTS[:shift]:
            before = cpu_seconds(server_pid)
            result = run_wrk(wrk, urls[endpoint.key], token, settings)
            cpu_us = (cpu_seconds(server_pid) - before) * 1e6 / max(result.requests, 1)
            results[endpoint.key].append((result, cpu_us))
            print(
                f"  round {index + 1}/{args.rounds}  {endpoint.label:<24} "
                f"{result.requests_per_second:8.0f} req/s  p50 {result.p50_ms:6.2f} ms  "
                f"p99 {result.p99_ms:6.2f} ms  cpu {cpu_us:6.0f} us/req  "
                f"non-2xx {result.non_2xx}"
            )
    return results


if __name__ == "__main__":
    sys.exit(main())
