"""``python -m bench.surveys``: the results of an express survey with 2,000 answers, on
PostgreSQL, with the app in process through httpx's ASGI transport.

2,000 checked-in attendees seated at 250 facilitated tables answer the express survey through
the API (16 in flight). Then `GET /surveys/{id}/results` (every question, the headline, the
k-anonymous breakdowns by table and by facilitator) is timed in interleaved rounds against a
baseline measured in the same run: one raw SQL aggregate over the same rows through asyncpg
(count, mean and share satisfied per table), the least any results page must cost. The target:
results in under 1 s. Results go to bench/README.md ("surveys").
"""

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from app.core.config import Settings
from app.main import create_app
from bench import report, seed

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/dl_bench_surveys"
RESPONSES, TABLE_SIZE, IN_FLIGHT, ROUNDS = 2000, 8, 16, 7
TARGET_SECONDS = 1.0
BASELINE_SQL = """
SELECT table_number, count(*),
       avg((answers->>'liked')::int),
       avg(((answers->>'liked')::int >= 4)::int)
FROM survey_response WHERE survey_id = $1 GROUP BY table_number
"""


async def _seat(
    connection: asyncpg.Connection, event_id: uuid.UUID, people: list[uuid.UUID]
) -> None:
    """Check everyone in and seat them at tables of eight, each led by its first member."""
    now = datetime.now(UTC)
    await connection.copy_records_to_table(
        "registration",
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
        records=[
            (uuid.uuid4(), event_id, m, "checked_in", uuid.uuid4().hex, 1, now, now) for m in people
        ],
    )
    plan = uuid.uuid4()
    await connection.execute(
        "INSERT INTO seating_plan (id, event_id, status, table_size, tables, options, "
        "metrics, evaluation, version, created_at, updated_at) VALUES "
        "($1, $2, 'published', $3, '{}', '{}', '{}', '{}', 1, $4, $4)",
        plan,
        event_id,
        TABLE_SIZE,
        now,
    )
    tables, seats = [], []
    for number, start in enumerate(range(0, len(people), TABLE_SIZE), 1):
        table = uuid.uuid4()
        group = people[start : start + TABLE_SIZE]
        tables.append((table, event_id, plan, number, f"Table {number}", group[0], TABLE_SIZE, now))
        seats += [(table, m, event_id) for m in group]
    await connection.copy_records_to_table(
        "event_table",
        records=tables,
        columns=(
            "id",
            "event_id",
            "plan_id",
            "number",
            "name",
            "facilitator_id",
            "seats",
            "created_at",
        ),
    )
    await connection.copy_records_to_table(
        "table_seat", records=seats, columns=("table_id", "member_id", "event_id")
    )
    await connection.execute("ANALYZE")


async def _answer_all(
    client: httpx.AsyncClient, survey_id: str, tokens: list[str]
) -> tuple[float, Counter[int]]:
    slots = asyncio.Semaphore(IN_FLIGHT)
    statuses: Counter[int] = Counter()

    async def one(n: int, token: str) -> None:
        answers = {
            "liked": 1 + (n * 7) % 5,
            "nps": (n * 3) % 11,
            "most_useful": f"The case discussion at table {n % 250}",
            "change": "More time" if n % 3 else "",
        }
        async with slots:
            response = await client.post(
                f"/api/v1/surveys/{survey_id}/responses",
                json={"answers": answers},
                headers={"Authorization": f"Bearer {token}"},
            )
        statuses[response.status_code] += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(n, t) for n, t in enumerate(tokens)))
    return time.perf_counter() - started, statuses


async def _run(database_url: str) -> str:
    settings = Settings(
        environment="production",
        database_url=database_url,
        # Production refuses the development defaults; no e-mail is sent here (no worker).
        mail_transport="smtp",
        web_app_url="https://app.bench.invalid",
        jwt_secret=secrets.token_urlsafe(48),
        access_token_minutes=120,
        worker_in_process=False,
        docs_enabled=False,
    )
    app = create_app(settings)
    codec = app.state.token_codec
    transport = httpx.ASGITransport(app=app)
    connection = await seed.connect(database_url)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://app", timeout=120
        ) as client:
            ids = [r["id"] for r in await connection.fetch("SELECT id FROM member ORDER BY id")]
            admin_id, people = ids[0], ids[1 : RESPONSES + 1]
            await connection.execute(
                "INSERT INTO member_role (member_id, role, granted_at) VALUES ($1, 'admin', now())",
                admin_id,
            )
            admin = {"Authorization": f"Bearer {codec.issue(admin_id, ['admin'], 0)}"}
            starts = datetime.now(UTC) - timedelta(hours=5)
            event = await client.post(
                "/api/v1/events",
                headers=admin,
                json={
                    "title": "Board of directors",
                    "starts_at": starts.isoformat(),
                    "ends_at": (starts + timedelta(hours=4)).isoformat(),
                    "seats": RESPONSES,
                },
            )
            event.raise_for_status()
            event_id = event.json()["id"]
            await _seat(connection, uuid.UUID(event_id), people)
            survey = await client.post(
                f"/api/v1/events/{event_id}/surveys/express", headers=admin, json={"language": "en"}
            )
            survey.raise_for_status()
            survey_id = survey.json()["id"]
            tokens = [codec.issue(m, ["member"], 0) for m in people]
            answer_seconds, statuses = await _answer_all(client, survey_id, tokens)

            results_times, baseline_times, body = [], [], {}
            for n in range(ROUNDS):
                # Alternating which goes first spreads drift over both.
                for which in ("results", "baseline") if n % 2 else ("baseline", "results"):
                    started = time.perf_counter()
                    if which == "results":
                        response = await client.get(
                            f"/api/v1/surveys/{survey_id}/results", headers=admin
                        )
                        response.raise_for_status()
                        body = response.json()
                        results_times.append(time.perf_counter() - started)
                    else:
                        await connection.fetch(BASELINE_SQL, uuid.UUID(survey_id))
                        baseline_times.append(time.perf_counter() - started)
    finally:
        await connection.close()
        await app.state.engine.dispose()

    median = statistics.median(results_times)
    baseline = statistics.median(baseline_times)
    verdict = "meets the target" if median < TARGET_SECONDS else "**misses the target**"
    lines = [
        "## Results: a survey with 2,000 answers",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs "
        f"({report.cpu_model()}), the app in process (ASGI transport), PostgreSQL, "
        "the worker off.",
        "",
        f"{len(people):,} checked-in attendees at {len(people) // TABLE_SIZE} facilitated "
        f"tables answered the express survey through the API ({IN_FLIGHT} in flight) in "
        f"{answer_seconds:.1f} s ({len(people) / answer_seconds:,.0f} answers/s); answers: "
        f"{dict(sorted(statuses.items()))}.",
        "",
        f"| {ROUNDS} interleaved rounds | median | rounds |",
        "|---|---:|---|",
        f"| `GET /surveys/{{id}}/results`: every question, the headline, breakdowns by "
        f"{len(people) // TABLE_SIZE} tables and by facilitator | {median * 1000:.0f} ms | "
        + ", ".join(f"{t * 1000:.0f}" for t in results_times)
        + " |",
        "| baseline: one SQL aggregate per table over the same rows (asyncpg) | "
        f"{baseline * 1000:.0f} ms | "
        + ", ".join(f"{t * 1000:.0f}" for t in baseline_times)
        + " |",
        "",
        f"Target: results in under {TARGET_SECONDS:.0f} s: {verdict} "
        f"({median / TARGET_SECONDS:.0%} of the budget; {median / baseline:.1f}x the raw "
        f"aggregate). Figures: {body.get('responses')} responses, response rate "
        f"{body.get('response_rate', 0):.0%}, share satisfied "
        f"{body.get('satisfied_share', 0):.1%}, NPS {body.get('nps')}.",
    ]
    failures = RESPONSES - statuses.get(201, 0)
    if failures or body.get("responses") != RESPONSES:
        lines += ["", "**Failures occurred: these figures are not trustworthy.**"]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    args = parser.parse_args(argv)
    seed.refuse_unless_bench(parser, args.database_url)
    seed.prepare_database(args.database_url, RESPONSES + 1)
    try:
        section = asyncio.run(_run(args.database_url))
    finally:
        seed.drop_database(args.database_url)
    print(section)
    report.write(section, marker="surveys")
    return 1 if "not trustworthy" in section else 0


if __name__ == "__main__":
    sys.exit(main())
