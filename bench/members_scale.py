"""``python -m bench.members_scale``: how the directory's latency grows with the number of
members, on PostgreSQL, served by uvicorn.

Three databases hold 1,000, 10,000 and 100,000 members (bulk COPY, then VACUUM ANALYZE), each
served by its own uvicorn. One member reads `GET /api/v1/members` in four shapes, one request
at a time over one keep-alive connection (latency, not throughput): the first page, a deep
page (a cursor 100 rows before the end of the directory), and two filters (a function, a
city). The sizes and shapes are timed in interleaved rounds, so the machine's drift falls on
all of them alike. The figures are p50 and p95 per shape and size, and the ratio of the
largest size to the smallest; keyset pagination over indexes should keep it flat. The SQL the
route issues for each shape is also EXPLAINed (ANALYZE) at every size: its execution time,
and at the largest size its plan, checked for sequential scans, sorts, count(*) and OFFSET.
Results go to bench/README.md ("members-scale").
"""

import argparse
import asyncio
import contextlib
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
ROUNDS = 5
EXPLAIN_RUNS = 5
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
    parser = argparse.ArgumentParser(
        prog="python -m bench.members_scale",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=150,
        help="timed requests per shape and size (default: %(default)s)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=15,
        help="untimed requests per shape and size first (default: %(default)s)",
    )
    parser.add_argument(
        "--sizes",
        default=",".join(map(str, SIZES)),
        help="member counts, ascending (default: %(default)s)",
    )
    seed.add_database_argument(parser, DEFAULT_DATABASE_URL)
    args = parser.parse_args(argv)
    args.sizes = tuple(int(s) for s in args.sizes.split(","))
    if list(args.sizes) != sorted(args.sizes) or args.sizes[0] < 2 * LIMIT:
        parser.error(f"--sizes must be ascending and at least {2 * LIMIT}")
    if min(args.requests, args.warmup + 1) < 1:
        parser.error("--requests must be positive")
    seed.refuse_unless_bench(parser, args.database_url)
    return args


async def _deep_key(database_url: str, from_end: int = 100) -> tuple[str, uuid.UUID]:
    """The (full_name, id) key of the row ``from_end`` rows before the end of the directory
    in its default order: a cursor there asks for one of the last pages."""
    connection = await seed.connect(database_url)
    try:
        row = await connection.fetchrow(
            "SELECT full_name, id FROM member ORDER BY full_name DESC, id DESC OFFSET $1 LIMIT 1",
            from_end,
        )
        return str(row["full_name"]), row["id"]
    finally:
        await connection.close()


def sized_url(database_url: str, size: int) -> str:
    url = make_url(database_url)
    return url.set(database=f"{url.database}_{size}").render_as_string(hide_password=False)


def url_of(shape: Shape, deep_key: tuple[str, uuid.UUID]) -> str:
    params = dict(shape.filters, limit=str(LIMIT))
    if shape.deep:
        params["cursor"] = encode_cursor("full_name", [deep_key[0], str(deep_key[1])])
    return "/api/v1/members?" + "&".join(f"{k}={v}" for k, v in params.items())


def time_requests(client: httpx.Client, url: str, token: str, count: int) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200 or not response.json()["items"]:
            raise BenchFailure(f"GET {url} answered {response.status_code}: {response.text[:300]}")
        timings.append(elapsed)
    return timings


def time_shapes(
    clients: dict[int, httpx.Client],
    urls: dict[int, dict[str, str]],
    tokens: dict[int, str],
    args: argparse.Namespace,
) -> dict[int, dict[str, list[float]]]:
    """Warm every size and shape up, then time them in interleaved rounds, so drift (the
    machine's other work) spreads over all of them rather than falling on one."""
    for size, client in clients.items():
        for url in urls[size].values():
            time_requests(client, url, tokens[size], args.warmup)
    timings: dict[int, dict[str, list[float]]] = {
        size: {key: [] for key in urls[size]} for size in clients
    }
    per_round = -(-args.requests // ROUNDS)
    for number in range(ROUNDS):
        print(f"  round {number + 1}/{ROUNDS}")
        for size, client in clients.items():
            for key, url in urls[size].items():
                timings[size][key] += time_requests(client, url, tokens[size], per_round)
    return timings


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


# -- the plans ---------------------------------------------------------------------------------


def statement_sql(
    shape: Shape, viewer_id: uuid.UUID, deep_key: tuple[str, uuid.UUID]
) -> tuple[str, list[Any]]:
    """The statement the route runs for this shape (the repository's own template) compiled
    for asyncpg, with the values a member's request binds, in order."""
    params = repository.filter_params(repository.MemberFilters(**shape.filters))
    stmt = repository._directory_template(  # noqa: SLF001 - the very statement, not a copy
        "postgresql", Audience.directory, frozenset(params), "full_name", shape.deep
    )
    params.update(viewer_id=viewer_id, limit=LIMIT + 1)
    if shape.deep:
        params.update(after_key=deep_key[0], after_id=deep_key[1])
    compiled = stmt.compile(dialect=asyncpg_dialect.dialect())
    bound = compiled.construct_params(params)
    return compiled.string, [bound[name] for name in compiled.positiontup or ()]


async def _explain(
    database_url: str, statements: dict[str, tuple[str, list[Any]]]
) -> dict[str, tuple[list[str], float]]:
    """Each statement's plan, and its median execution time (ms) over a few runs."""
    connection = await seed.connect(database_url)
    try:
        plans = {}
        for key, (sql, values) in statements.items():
            runs = []
            for _ in range(EXPLAIN_RUNS):
                rows = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *values)
                runs.append([r[0] for r in rows])
            times = [_execution_ms(plan) for plan in runs]
            plans[key] = (runs[-1], statistics.median(times))
        return plans
    finally:
        await connection.close()


def _execution_ms(plan: list[str]) -> float:
    line = next(line for line in plan if line.startswith("Execution Time"))
    return float(line.split(":", 1)[1].strip().removesuffix(" ms"))


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
    executed = next(
        (line.split(":", 1)[1].strip() for line in plan if line.startswith("Execution Time")), "?"
    )
    return " > ".join(nodes) + f" ({executed})"


# -- the run -----------------------------------------------------------------------------------


def render(
    started: datetime,
    server_version: str,
    args: argparse.Namespace,
    results: dict[int, dict[str, list[float]]],
    plans: dict[int, dict[str, tuple[list[str], float]]],
) -> str:
    first, last = args.sizes[0], args.sizes[-1]
    sizes = " | ".join(f"{s:,}" for s in args.sizes)
    lines = [
        "## Results: the directory from 1,000 to 100,000 members",
        "",
        f"Measured {started:%Y-%m-%d %H:%M} UTC on {machine()}, PostgreSQL {server_version}; "
        f"one uvicorn (1 worker) per size, one member reading "
        f"`GET /api/v1/members?limit={LIMIT}` one request at a time, {args.requests} timed "
        f"requests per shape and size in {ROUNDS} rounds interleaving sizes and shapes, after "
        f"{args.warmup} untimed. Reproduce: `.venv/bin/python -m bench.members_scale`.",
        "",
        "Latency over HTTP, p50 / p95 (ms), by number of members:",
        "",
        f"| Shape | {sizes} | p50 {last:,} / {first:,} |",
        "|---|" + "---:|" * (len(args.sizes) + 1),
    ]
    flat = True
    for shape in SHAPES:
        cells = []
        for size in args.sizes:
            timings = results[size][shape.key]
            cells.append(f"{percentile(timings, 0.5):.1f} / {percentile(timings, 0.95):.1f}")
        ratio = percentile(results[last][shape.key], 0.5) / percentile(
            results[first][shape.key], 0.5
        )
        flat = flat and ratio <= FLAT_RATIO
        lines.append(f"| {shape.label} | " + " | ".join(cells) + f" | {ratio:.2f} |")
    lines += [
        "",
        f"Verdict: {'flat' if flat else '**not flat**'} (p50 at {last:,} within "
        f"{FLAT_RATIO:g}x of {first:,} for every shape).",
        "",
        f"The route's statement in PostgreSQL (`EXPLAIN ANALYZE` of the repository's own "
        f"statement with a member's bound values; median execution time of {EXPLAIN_RUNS}, "
        "ms), and its plan at the largest size:",
        "",
        f"| Shape | {sizes} | Plan at {last:,} (outermost first) | Seq scan, sort, count, OFFSET |",
        "|---|" + "---:|" * len(args.sizes) + "---|---|",
    ]
    for shape in SHAPES:
        plan = plans[last][shape.key][0]
        times = " | ".join(f"{plans[size][shape.key][1]:.2f}" for size in args.sizes)
        lines.append(
            f"| {shape.label} | {times} | {plan_summary(plan)} | "
            f"{', '.join(plan_findings(plan)) or 'none'} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    secret = secrets.token_urlsafe(48)
    codec = TokenCodec(Settings(jwt_secret=secret, access_token_minutes=TOKEN_MINUTES))
    urls = {size: sized_url(args.database_url, size) for size in args.sizes}
    seeded: dict[int, seed.Seeded] = {}
    try:
        for size in args.sizes:
            print(f"Seeding {size:,} members into {make_url(urls[size]).database} ...")
            seeded[size] = seed.prepare_database(urls[size], size, vacuum=True)
        with (
            tempfile.TemporaryDirectory(prefix="dl-bench-scale-") as tmp,
            contextlib.ExitStack() as stack,
        ):
            clients, shapes, tokens = {}, {}, {}
            for size in args.sizes:
                server = stack.enter_context(
                    serve(
                        urls[size],
                        secret,
                        Path(tmp) / f"uvicorn-{size}.log",
                        {"DL_WORKER_IN_PROCESS": "false"},
                    )
                )
                clients[size] = stack.enter_context(
                    httpx.Client(base_url=server.base_url, timeout=30)
                )
                deep_key = asyncio.run(_deep_key(urls[size]))
                shapes[size] = {s.key: url_of(s, deep_key) for s in SHAPES}
                tokens[size] = codec.issue(seeded[size].viewer_id, ["member"], 0)
            results = time_shapes(clients, shapes, tokens, args)
            plans = {}
            for size in args.sizes:
                deep_key = asyncio.run(_deep_key(urls[size]))
                statements = {
                    s.key: statement_sql(s, seeded[size].viewer_id, deep_key) for s in SHAPES
                }
                plans[size] = asyncio.run(_explain(urls[size], statements))
    except (BenchFailure, seed.DatabaseError) as error:
        print(f"bench failed: {error}", file=sys.stderr)
        return 1
    finally:
        for size in args.sizes:
            seed.drop_database(urls[size])
    section = render(started, seeded[args.sizes[0]].server_version, args, results, plans)
    report.write(section, marker="members-scale")
    print(f"\n{section}\nWritten to {report.README.relative_to(ROOT)}.")
    for shape in SHAPES:
        print(
            f"\n{shape.label} at {args.sizes[-1]:,}:\n"
            + "\n".join(plans[args.sizes[-1]][shape.key][0])
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
