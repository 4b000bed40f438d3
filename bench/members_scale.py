"""``python -m bench.members_scale``: how the directory's latency grows with the number of
members, on PostgreSQL, served by uvicorn.

The database grows from 1,000 to 10,000 to 100,000 members (bulk COPY between the steps,
then ANALYZE). At each size, one member reads `GET /api/v1/members` in four shapes, one
request at a time over one keep-alive connection (latency, not throughput): the first page,
a deep page (a cursor 100 rows before the end of the directory), and two filters (a function,
a city). The figures are p50 and p95 per shape and size, and the ratio of the largest size to
the smallest; keyset pagination over indexes should keep it flat. Then the SQL the route
issues for each shape is EXPLAINed (ANALYZE) at the largest size and its plan checked for
sequential scans, full sorts, count(*) and OFFSET. Results go to bench/README.md
("members-scale").
"""

import argparse
import asyncio
import os
import secrets
import statistics
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
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.engine import make_url

from app.core.config import Settings
from app.core.pagination import encode_cursor
from app.core.security import TokenCodec
from app.members import repository
from app.members.repository import Audience
from bench import report, seed
from bench.load import machine
from bench.run import TOKEN_MINUTES, BenchFailure, serve
from bench.seed import ROOT

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/dl_bench_members_scale"
SIZES = (1_000, 10_000, 100_000)
LIMIT = 50
FLAT_RATIO = 2.0  # the largest size's p50 within twice the smallest's counts as flat


@dataclass(frozen=True, slots=True)
class Shape:
    key: str
    label: str
    filters: dict[str, str]
    deep: bool = False


SHAPES = (
    Shape("first", "first page", {}),
    Shape("deep", "deep page (cursor 100 rows before the end)", {}, deep=True),
    Shape("function", "filter `function=CTO`", {"function": "CTO"}),
    Shape("city", "filter `city=Berlin`", {"city": "Berlin"}),
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.members_scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=150,
                        help="timed requests per shape and size (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=15,
                        help="untimed requests per shape and size first (default: %(default)s)")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="member counts, ascending (default: %(default)s)")
    parser.add_argument("--database-url",
                        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
                        help="database to drop, create and seed; its name must contain "
                             "'bench' (default: $BENCH_DATABASE_URL or %(default)s)")
    args = parser.parse_args(argv)
    args.sizes = tuple(int(s) for s in args.sizes.split(","))
    if list(args.sizes) != sorted(args.sizes) or args.sizes[0] < 2 * LIMIT:
        parser.error(f"--sizes must be ascending and at least {2 * LIMIT}")
    if min(args.requests, args.warmup + 1) < 1:
        parser.error("--requests must be positive")
    if "bench" not in (make_url(args.database_url).database or ""):
        parser.error("refusing to drop a database whose name does not contain 'bench'")
    return args


async def _deep_key(database_url: str, from_end: int = 100) -> tuple[str, uuid.UUID]:
    """The (full_name, id) key of the row ``from_end`` rows before the end of the directory
    in its default order: a cursor there asks for one of the last pages."""
    connection = await seed.connect(database_url)
    try:
        row = await connection.fetchrow(
            "SELECT full_name, id FROM member ORDER BY full_name DESC, id DESC "
            "OFFSET $1 LIMIT 1", from_end)
        return str(row["full_name"]), row["id"]
    finally:
        await connection.close()


def url_of(shape: Shape, deep_key: tuple[str, uuid.UUID]) -> str:
    params = dict(shape.filters, limit=str(LIMIT))
    if shape.deep:
        params["cursor"] = encode_cursor("full_name", [deep_key[0], str(deep_key[1])])
    return "/api/v1/members?" + "&".join(f"{k}={v}" for k, v in params.items())


def time_shape(client: httpx.Client, url: str, token: str, args: argparse.Namespace
               ) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    timings = []
    for n in range(args.warmup + args.requests):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200 or not response.json()["items"]:
            raise BenchFailure(f"GET {url} answered {response.status_code}: "
                               f"{response.text[:300]}")
        if n >= args.warmup:
            timings.append(elapsed)
    return timings


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


# -- the plans ---------------------------------------------------------------------------------


def statement_sql(shape: Shape, viewer_id: uuid.UUID, deep_key: tuple[str, uuid.UUID]
                  ) -> tuple[str, list[Any]]:
    """The statement the route runs for this shape (the repository's own template) compiled
    for asyncpg, with the values a member's request binds, in order."""
    params = repository.filter_params(repository.MemberFilters(**shape.filters))
    stmt = repository._directory_template(  # noqa: SLF001 - the very statement, not a copy
        "postgresql", Audience.directory, frozenset(params), "full_name", shape.deep)
    params.update(viewer_id=viewer_id, limit=LIMIT + 1)
    if shape.deep:
        params.update(after_key=deep_key[0], after_id=deep_key[1])
    compiled = stmt.compile(dialect=asyncpg_dialect.dialect())
    bound = compiled.construct_params(params)
    return compiled.string, [bound[name] for name in compiled.positiontup or ()]


async def _explain(database_url: str, statements: dict[str, tuple[str, list[Any]]]
                   ) -> dict[str, list[str]]:
    connection = await seed.connect(database_url)
    try:
        plans = {}
        for key, (sql, values) in statements.items():
            rows = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *values)
            plans[key] = [r[0] for r in rows]
        return plans
    finally:
        await connection.close()


def plan_findings(plan: list[str]) -> list[str]:
    text = "\n".join(plan)
    findings = []
    if "Seq Scan on member " in text or "Seq Scan on member\n" in text:
        findings.append("sequential scan of member")
    if "Seq Scan on member_role" in text:
        findings.append("sequential scan of member_role")
    if "Sort Method" in text:
        findings.append("a sort")
    if "count(" in text.lower():
        findings.append("count(*)")
    if "OFFSET" in text.upper():
        findings.append("OFFSET")
    return findings


def plan_summary(plan: list[str]) -> str:
    """The plan's node types, outermost first, and its execution time."""
    nodes = []
    for line in plan:
        stripped = line.strip().removeprefix("->").strip()
        if "(cost=" in stripped:
            nodes.append(stripped.split("  (cost=")[0])
    executed = next((line.split(":", 1)[1].strip() for line in plan
                     if line.startswith("Execution Time")), "?")
    return " > ".join(nodes) + f" ({executed})"


# -- the run -----------------------------------------------------------------------------------


def render(started: datetime, server_version: str, args: argparse.Namespace,
           results: dict[int, dict[str, list[float]]], plans: dict[str, list[str]]) -> str:
    first, last = args.sizes[0], args.sizes[-1]
    sizes = " | ".join(f"{s:,}: p50 / p95" for s in args.sizes)
    lines = [
        "## Results: the directory from 1,000 to 100,000 members", "",
        f"Measured {started:%Y-%m-%d %H:%M} UTC on {machine()}, PostgreSQL {server_version}; "
        f"uvicorn with 1 worker, one member reading `GET /api/v1/members?limit={LIMIT}` one "
        f"request at a time, {args.requests} timed requests per shape and size after "
        f"{args.warmup} untimed. Reproduce: `.venv/bin/python -m bench.members_scale`.", "",
        f"| Shape | {sizes} (ms) | p50 {last:,} / {first:,} |",
        "|---|" + "---:|" * (len(args.sizes) + 1),
    ]
    flat = True
    for shape in SHAPES:
        cells = []
        for size in args.sizes:
            timings = results[size][shape.key]
            cells.append(f"{percentile(timings, 0.5):.1f} / {percentile(timings, 0.95):.1f}")
        ratio = (percentile(results[last][shape.key], 0.5)
                 / percentile(results[first][shape.key], 0.5))
        flat = flat and ratio <= FLAT_RATIO
        lines.append(f"| {shape.label} | " + " | ".join(cells) + f" | {ratio:.2f} |")
    lines += [
        "",
        f"Verdict: {'flat' if flat else '**not flat**'} (p50 at {last:,} within "
        f"{FLAT_RATIO:g}x of {first:,} for every shape).", "",
        f"Plans of the route's statement at {last:,} members (`EXPLAIN ANALYZE`, the "
        "repository's own statement with a member's bound values):", "",
        "| Shape | Plan (outermost first; execution time) | Seq scan / sort / count / OFFSET |",
        "|---|---|---|",
    ]
    for shape in SHAPES:
        findings = plan_findings(plans[shape.key])
        lines.append(f"| {shape.label} | {plan_summary(plans[shape.key])} | "
                     f"{', '.join(findings) or 'none'} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    print(f"Seeding {args.sizes[0]:,} members into {make_url(args.database_url).database} ...")
    try:
        seeded = seed.prepare_database(args.database_url, args.sizes[0])
    except seed.DatabaseError as error:
        print(f"bench failed: {error}", file=sys.stderr)
        return 1
    secret = secrets.token_urlsafe(48)
    codec = TokenCodec(Settings(jwt_secret=secret, access_token_minutes=TOKEN_MINUTES))
    token = codec.issue(seeded.viewer_id, ["member"], 0)
    results: dict[int, dict[str, list[float]]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="dl-bench-scale-") as tmp, \
                serve(args.database_url, secret, Path(tmp) / "uvicorn.log",
                      {"DL_WORKER_IN_PROCESS": "false"}) as server, \
                httpx.Client(base_url=server.base_url, timeout=30) as client:
            current = args.sizes[0]
            for size in args.sizes:
                if size > current:
                    print(f"Adding {size - current:,} members ...")
                    seed.add_members(args.database_url, size - current, current)
                    current = size
                deep_key = asyncio.run(_deep_key(args.database_url))
                results[size] = {}
                for shape in SHAPES:
                    timings = time_shape(client, url_of(shape, deep_key), token, args)
                    results[size][shape.key] = timings
                    print(f"  {size:>7,} members  {shape.label:<44} p50 "
                          f"{percentile(timings, 0.5):6.1f} ms  p95 "
                          f"{percentile(timings, 0.95):6.1f} ms")
            sqls = {s.key: statement_sql(s, seeded.viewer_id, deep_key) for s in SHAPES}
            plans = asyncio.run(_explain(args.database_url, sqls))
    except (BenchFailure, seed.DatabaseError) as error:
        print(f"bench failed: {error}", file=sys.stderr)
        return 1
    finally:
        seed.drop_database(args.database_url)
    section = render(started, seeded.server_version, args, results, plans)
    report.write(section, marker="members-scale")
    print(f"\n{section}\nWritten to {report.README.relative_to(ROOT)}.")
    for shape in SHAPES:
        print(f"\n{shape.label}:\n" + "\n".join(plans[shape.key]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
