"""``python -m bench.outbox``: events delivered per second by one and by four workers.

PostgreSQL holds N outbox events and one webhook subscription; a receiver runs in its own
process; `python -m app.worker` processes drain the outbox (fan-out, signing, POST, record).
The baseline, measured in the same run, is the receiver's ceiling: the same POSTs from one
process with httpx and no database. Results go to bench/README.md (section "outbox").
"""

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench import report, seed
from bench.run import HOST, free_port
from bench.seed import ROOT

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/dl_bench_outbox"
SECRET = "bench-secret-" + "b" * 40
GIVE_UP_SECONDS = 600


@contextmanager
def receiver(delay: float = 0) -> Iterator[str]:
    """``bench/receiver.py`` in its own uvicorn; ``delay``: seconds before each answer."""
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "uvicorn"),
        "bench.receiver:app",
        "--host",
        HOST,
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
        "--timeout-graceful-shutdown",
        "1",
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=dict(os.environ) | {"BENCH_RECEIVER_DELAY": str(delay)}
    )
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base}/stats", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def worker_processes(
    database_url: str,
    jwt_secret: str,
    count: int = 1,
    extra_env: dict[str, str] | None = None,
    niceness: int = 0,
) -> Iterator[list[int]]:
    """``count`` processes of `python -m app.worker` (the relay and the scheduled jobs) until
    the block ends, allowed to POST to local receivers; yields their pids. Stopped with
    SIGTERM, which lets attempts in flight finish. ``niceness`` lowers their CPU priority, as
    a deployment does that gives the API precedence over deliveries (``cpu_shares``)."""
    env = (
        dict(os.environ)
        | {
            "DL_DATABASE_URL": database_url,
            "DL_JWT_SECRET": jwt_secret,
            "DL_ENVIRONMENT": "production",
            # Production refuses the development defaults. No mail server listens: e-mails
            # fail and are retried, which this benchmark does not measure.
            "DL_MAIL_TRANSPORT": "smtp",
            "DL_SMTP_HOST": "127.0.0.1",
            "DL_WEB_APP_URL": "https://app.bench.invalid",
            "DL_PUBLIC_API_URL": "https://api.bench.invalid",
            "DL_WEBHOOK_ALLOWED_HTTP_HOSTS": f'["{HOST}"]',
            "DL_WORKER_IDLE_SECONDS": "0.05",
            "DL_DATABASE_POOL_SIZE": "10",
        }
        | (extra_env or {})
    )
    processes = [
        subprocess.Popen(
            # nice(1) execs the worker: the pid is the worker's own.
            ["nice", "-n", str(niceness), sys.executable, "-m", "app.worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]
    try:
        yield [process.pid for process in processes]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def _load(database_url: str, receiver_url: str, events: int) -> None:
    connection = await seed.connect(database_url)
    try:
        await connection.execute("TRUNCATE outbox_event, webhook_subscription CASCADE")
        now = datetime.now(UTC)
        await connection.execute(
            "INSERT INTO webhook_subscription (id, url, description, event_types, enabled, "
            "secret, created_at, updated_at, version) VALUES ($1, $2, '', '[]', true, $3, "
            "$4, $4, 1)",
            uuid.uuid4(),
            f"{receiver_url}/hook",
            "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            now,
        )
        data = (
            '{"id": "00000000-0000-0000-0000-000000000000", "version": 1, '
            '"fields": ["city"], "privacy_changed": false}'
        )
        await connection.copy_records_to_table(
            "outbox_event",
            records=[
                (uuid.uuid4(), "member.updated", 1, now, "member", uuid.uuid4(), data)
                for _ in range(events)
            ],
            columns=(
                "id",
                "type",
                "type_version",
                "occurred_at",
                "subject_type",
                "subject_id",
                "data",
            ),
        )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def _open_work(database_url: str) -> int:
    connection = await seed.connect(database_url)
    try:
        return int(
            await connection.fetchval(
                "SELECT (SELECT count(*) FROM outbox_event WHERE dispatched_at IS NULL) + "
                "(SELECT count(*) FROM delivery WHERE status = 'pending')"
            )
        )
    finally:
        await connection.close()


def drain(database_url: str, receiver_url: str, events: int, workers: int) -> dict[str, float]:
    asyncio.run(_load(database_url, receiver_url, events))
    httpx.delete(f"{receiver_url}/stats")
    started = time.perf_counter()
    with worker_processes(database_url, SECRET, workers):
        while asyncio.run(_open_work(database_url)):
            if time.perf_counter() - started > GIVE_UP_SECONDS:
                raise RuntimeError("the workers did not drain the outbox in time")
            time.sleep(0.1)
        elapsed = time.perf_counter() - started
    stats = httpx.get(f"{receiver_url}/stats").json()
    return {
        "seconds": elapsed,
        "per_second": events / elapsed,
        "received": stats["total"],
        "unique": stats["unique"],
        "duplicates": stats["total"] - stats["unique"],
        "lost": events - stats["unique"],
    }


async def _ceiling(receiver_url: str, requests: int, concurrency: int) -> float:
    body = b'{"type":"member.updated","data":{}}'
    async with httpx.AsyncClient() as client:
        semaphore = asyncio.Semaphore(concurrency)

        async def one(n: int) -> None:
            async with semaphore:
                await client.post(
                    f"{receiver_url}/hook", content=body, headers={"webhook-id": f"ceiling-{n}"}
                )

        started = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(requests)))
        return requests / (time.perf_counter() - started)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    args = parser.parse_args(argv)
    seed.fresh_database(args.database_url)
    try:
        with receiver() as receiver_url:
            ceiling = asyncio.run(_ceiling(receiver_url, args.events, 16))
            httpx.delete(f"{receiver_url}/stats")
            one = drain(args.database_url, receiver_url, args.events, 1)
            four = drain(args.database_url, receiver_url, args.events, 4)
    finally:
        seed.drop_database(args.database_url)
    lines = [
        "## Results: outbox delivery",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs "
        f"({report.cpu_model()}), {args.events:,} events, one subscription, the receiver in "
        "its own process.",
        "",
        "| | events/s | wall time | delivered | lost | duplicates |",
        "|---|---:|---:|---:|---:|---:|",
        f"| Baseline: the same POSTs, no database (16 in flight) | {ceiling:,.0f} | | | | |",
    ]
    for label, result in (("1 worker", one), ("4 workers", four)):
        lines.append(
            f"| {label} | {result['per_second']:,.0f} | {result['seconds']:.1f} s | "
            f"{result['unique']:,} | {result['lost']:,} | {result['duplicates']:,} |"
        )
    section = "\n".join(lines) + "\n"
    print(section)
    report.write(section, marker="outbox")
    failed = one["lost"] or four["lost"]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
