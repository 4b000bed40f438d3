"""``python -m bench.events_day``: the two peaks of an event's registration, on PostgreSQL,
with the app served in process through httpx's ASGI transport (the requests, the app and
the database; no sockets, so the client's connection handling does not blur the figures).

1. The race: 200 members register and confirm at the same instant for 64 seats; confirmed
   and waitlisted counts, wall time, and 5xx. Five rounds, each on a fresh event.
2. A burst of 5,000 signed Timepad webhooks (32 in flight), plus 500 replays of some of
   them: accepted per second, and after processing, lost (must be 0) and duplicated
   registrations (must be 0).
The baseline, measured in the same run against the same app, is the same number of requests
to `/healthz` with the same concurrency. Results go to bench/README.md ("events").
"""

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import secrets
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import httpx

from app.core.config import Settings
from app.core.security import TokenCodec
from app.main import create_app
from bench import report, seed

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/dl_bench_main_events"
MEMBERS, SEATS, ROUNDS = 200, 64, 5
WEBHOOKS, REPLAYS, IN_FLIGHT = 5000, 500, 32
TIMEPAD_EVENT = 424242
TIMEPAD_SECRET = "bench-timepad-" + "p" * 20


async def _open_event(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    seats: int,
    timepad_event_id: int | None = None,
) -> str:
    starts = datetime.now(UTC) + timedelta(days=30)
    created = await client.post(
        "/api/v1/events",
        headers=admin,
        json={
            "title": "Board of directors",
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=4)).isoformat(),
            "seats": seats,
            "timepad_event_id": timepad_event_id,
        },
    )
    created.raise_for_status()
    event_id = created.json()["id"]
    for status in ("published", "registration_open"):
        moved = await client.post(
            f"/api/v1/events/{event_id}/status", headers=admin, json={"status": status}
        )
        moved.raise_for_status()
    return str(event_id)


async def _race(
    client: httpx.AsyncClient, event_id: str, people: list[dict[str, str]]
) -> tuple[float, Counter[str], int]:
    async def one(headers: dict[str, str]) -> tuple[int, str]:
        created = await client.post(
            f"/api/v1/events/{event_id}/registrations", headers=headers, json={"source": "ads"}
        )
        if created.status_code != 201:
            return created.status_code, ""
        confirmed = await client.post(
            f"/api/v1/registrations/{created.json()['id']}/confirm", headers=headers
        )
        return confirmed.status_code, confirmed.json().get("status", "")

    started = time.perf_counter()
    results = await asyncio.gather(*(one(h) for h in people))
    elapsed = time.perf_counter() - started
    return elapsed, Counter(s for _, s in results), sum(c >= 500 for c, _ in results)


async def _baseline(client: httpx.AsyncClient, requests: int, in_flight: int) -> float:
    slots = asyncio.Semaphore(in_flight)

    async def one() -> None:
        async with slots:
            (await client.get("/healthz")).raise_for_status()

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(requests)))
    return time.perf_counter() - started


def _webhook(order_id: int) -> bytes:
    return json.dumps(
        {
            "id": order_id,
            "status": {"name": "paid", "title": "оплачено"},
            "mail": f"guest{order_id}@example.com",
            "event": {"id": TIMEPAD_EVENT},
            "answers": {"name": "Гость", "surname": str(order_id)},
        },
        ensure_ascii=True,
    ).encode()


async def _burst(client: httpx.AsyncClient) -> tuple[float, Counter[int]]:
    bodies = [_webhook(1_000_000 + n) for n in range(WEBHOOKS)]
    bodies += bodies[:REPLAYS]  # Timepad (or a proxy) sending some twice
    slots = asyncio.Semaphore(IN_FLIGHT)
    statuses: Counter[int] = Counter()

    async def one(body: bytes) -> None:
        signature = hmac.new(TIMEPAD_SECRET.encode(), body, hashlib.sha1).hexdigest()
        async with slots:
            response = await client.post(
                "/api/v1/integrations/timepad/webhook",
                content=body,
                headers={
                    "content-type": "application/json",
                    "x-hub-signature": f"sha1={signature}",
                },
            )
        statuses[response.status_code] += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(b) for b in bodies))
    return time.perf_counter() - started, statuses


async def _burst_outcome(database_url: str) -> dict[str, int]:
    connection = await seed.connect(database_url)
    try:
        inbox = await connection.fetchval("SELECT count(*) FROM inbox_message")
        unprocessed = await connection.fetchval(
            "SELECT count(*) FROM inbox_message WHERE processed_at IS NULL"
        )
        registrations = await connection.fetchval(
            "SELECT count(*) FROM registration WHERE timepad_order_id IS NOT NULL"
        )
        distinct = await connection.fetchval(
            "SELECT count(DISTINCT timepad_order_id) FROM registration"
        )
        return {
            "inbox": inbox,
            "unprocessed": unprocessed,
            "registrations": registrations,
            "distinct_orders": distinct,
        }
    finally:
        await connection.close()


async def _run(database_url: str, transport: httpx.AsyncBaseTransport, codec: TokenCodec) -> str:
    ids = await seed.member_ids_with_admin(database_url)
    admin = {"Authorization": f"Bearer {codec.issue(ids[0], ['admin', 'member'], 0)}"}
    people = [
        {"Authorization": f"Bearer {codec.issue(i, ['member'], 0)}"} for i in ids[1 : MEMBERS + 1]
    ]

    def connect() -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=transport, base_url="http://app", timeout=60)

    baselines, races = [], []
    for _ in range(ROUNDS):
        async with connect() as client:
            baselines.append(await _baseline(client, 2 * MEMBERS, MEMBERS))
        async with connect() as client:
            event_id = await _open_event(client, admin, SEATS)
            races.append(await _race(client, event_id, people))
    baseline_race = statistics.median(baselines)
    async with connect() as client:
        await _open_event(client, admin, WEBHOOKS, TIMEPAD_EVENT)
        baseline_burst = await _baseline(client, WEBHOOKS + REPLAYS, IN_FLIGHT)
    async with connect() as client:
        burst_seconds, burst_statuses = await _burst(client)
    outcome = await _burst_outcome(database_url)

    times = [r[0] for r in races]
    lines = [
        "## Results: an event's registration peaks",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs "
        f"({report.cpu_model()}), the app in process (ASGI transport), PostgreSQL, "
        "the worker off.",
        "",
        f"**The race** ({MEMBERS} members register and confirm at once for {SEATS} seats, "
        f"{ROUNDS} rounds):",
        "",
        "| | median | rounds |",
        "|---|---:|---|",
        f"| register + confirm, {MEMBERS} at once | {statistics.median(times):.2f} s | "
        + ", ".join(f"{t:.2f}" for t in times)
        + " |",
        f"| baseline: {2 * MEMBERS} GET /healthz at once | {baseline_race:.2f} s | |",
        "",
        "| round | confirmed | waitlisted | 5xx |",
        "|---:|---:|---:|---:|",
    ]
    for n, (_, counts, errors) in enumerate(races, 1):
        lines.append(f"| {n} | {counts['confirmed']} | {counts['waitlisted']} | {errors} |")
    accepted = burst_statuses.get(202, 0)
    lines += [
        "",
        f"**The Timepad burst** ({WEBHOOKS:,} signed webhooks and {REPLAYS} replays, "
        f"{IN_FLIGHT} in flight):",
        "",
        "| | requests/s | wall time |",
        "|---|---:|---:|",
        f"| signed webhooks, verified, stored and applied | "
        f"{(WEBHOOKS + REPLAYS) / burst_seconds:,.0f} | {burst_seconds:.1f} s |",
        f"| baseline: as many GET /healthz | {(WEBHOOKS + REPLAYS) / baseline_burst:,.0f} | "
        f"{baseline_burst:.1f} s |",
        "",
        f"Answers: {dict(sorted(burst_statuses.items()))}; inbox rows {outcome['inbox']:,} "
        f"(replays stored once), unprocessed {outcome['unprocessed']}; registrations "
        f"{outcome['registrations']:,} for {outcome['distinct_orders']:,} orders: "
        f"lost {WEBHOOKS - outcome['distinct_orders']}, duplicated "
        f"{outcome['registrations'] - outcome['distinct_orders']}.",
    ]
    failures = sum(r[2] for r in races) + (WEBHOOKS + REPLAYS - accepted)
    if failures or outcome["distinct_orders"] != WEBHOOKS:
        lines += ["", "**Failures occurred: these figures are not trustworthy.**"]
    return "\n".join(lines) + "\n"


async def _in_process(database_url: str) -> str:
    settings = Settings(
        environment="production",
        database_url=database_url,
        # Production refuses the development defaults; no e-mail is sent here (no worker).
        mail_transport="smtp",
        web_app_url="https://app.bench.invalid",
        jwt_secret=secrets.token_urlsafe(48),
        access_token_minutes=120,
        timepad_webhook_secret=TIMEPAD_SECRET,
        worker_in_process=False,
        docs_enabled=False,
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    try:
        return await _run(database_url, transport, app.state.token_codec)
    finally:
        await app.state.engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    args = parser.parse_args(argv)
    seed.prepare_database(args.database_url, MEMBERS + 1)
    try:
        section = asyncio.run(_in_process(args.database_url))
    finally:
        seed.drop_database(args.database_url)
    print(section)
    report.write(section, marker="events")
    return 1 if "not trustworthy" in section else 0


if __name__ == "__main__":
    sys.exit(main())
