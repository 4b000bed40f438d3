"""The benchmark database: dropped and created, migrated, then filled with members in bulk."""

import argparse
import asyncio
import json
import os
import random
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import URL, make_url

ROOT = Path(__file__).resolve().parent.parent
MAINTENANCE_DATABASE = "postgres"

FUNCTIONS = (
    "CEO",
    "CTO",
    "CIO",
    "CDO",
    "CPO",
    "CMO",
    "CFO",
    "COO",
    "CHRO",
    "head_of_sales",
    "head_of_product",
    "head_of_engineering",
    "other",
)
JOB_TITLES = {
    "CEO": "Chief Executive Officer",
    "CTO": "Chief Technology Officer",
    "CIO": "Chief Information Officer",
    "CDO": "Chief Digital Officer",
    "CPO": "Chief Product Officer",
    "CMO": "Chief Marketing Officer",
    "CFO": "Chief Financial Officer",
    "COO": "Chief Operating Officer",
    "CHRO": "Chief Human Resources Officer",
    "head_of_sales": "Head of Sales",
    "head_of_product": "Head of Product",
    "head_of_engineering": "Head of Engineering",
    "other": "Director of Digital Transformation",
}
FIRST_NAMES = (
    "Anna",
    "Lukas",
    "Sophie",
    "Maximilian",
    "Marie",
    "Jonas",
    "Laura",
    "Felix",
    "Julia",
    "Paul",
    "Lea",
    "Leon",
    "Hannah",
    "Elias",
    "Clara",
    "Noah",
    "Emma",
    "David",
    "Mia",
    "Tobias",
    "Sarah",
    "Jan",
    "Katharina",
    "Florian",
    "Nina",
)
LAST_NAMES = (
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Koch",
    "Richter",
    "Bauer",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hofmann",
    "Hartmann",
    "Lange",
    "Schmitt",
    "Werner",
    "Krause",
    "Meier",
    "Lehmann",
    "Huber",
)
CITIES = (
    "Berlin",
    "Munich",
    "Hamburg",
    "Frankfurt",
    "Cologne",
    "Stuttgart",
    "Düsseldorf",
    "Leipzig",
    "Vienna",
    "Zurich",
    "Amsterdam",
    "Copenhagen",
)
INDUSTRIES = (
    "Automotive",
    "Banking",
    "Insurance",
    "Retail",
    "Logistics",
    "Healthcare",
    "Energy",
    "Telecommunications",
    "Manufacturing",
    "Media",
    "Public sector",
    "Software",
)
TAGS = (
    "cloud",
    "ai",
    "data",
    "security",
    "erp",
    "devops",
    "platforms",
    "ecommerce",
    "leadership",
    "agile",
    "iot",
    "fintech",
    "sustainability",
    "hiring",
    "m&a",
)
COMPANIES = (
    "Nordlicht AG",
    "Rheinwerk GmbH",
    "Alpenbank",
    "Hansa Logistik",
    "Medicor SE",
    "Voltaris Energie",
    "Teleport Net",
    "Stahlberg Industrie",
    "Kuratorium Media",
    "Stadtwerke Mitte",
    "Quantis Software",
    "Lindner Retail",
)
VISIBILITIES = ("nobody", "table", "members", "public")
MEMBER_COLUMNS = (
    "id",
    "email",
    "email_normalized",
    "password_hash",
    "full_name",
    "phone",
    "city",
    "function",
    "seniority",
    "industry",
    "expertise_tags",
    "bio",
    "links",
    "company",
    "job_title",
    "company_visibility",
    "job_title_visibility",
    "phone_visibility",
    "email_visibility",
    "status",
    "member_since",
    "token_version",
    "version",
    "created_at",
    "updated_at",
    "erased_at",
    # Members who signed up themselves: their address is proven (registering needs it).
    "email_verified_at",
)


class DatabaseError(RuntimeError):
    """PostgreSQL is unreachable, or creating, migrating or seeding the database failed."""


@dataclass(frozen=True, slots=True)
class Seeded:
    """Who the benchmark reads as and whom it reads."""

    viewer_id: uuid.UUID
    target_id: uuid.UUID
    members: int
    server_version: str


def prepare_database(database_url: str, members: int, vacuum: bool = False) -> Seeded:
    """Drop and recreate the database, run the migrations, insert ``members`` members."""
    try:
        return asyncio.run(_prepare(make_url(database_url), members, vacuum))
    except (OSError, asyncpg.PostgresError) as error:
        raise DatabaseError(f"preparing the database failed: {error!r}") from error


def drop_database(database_url: str) -> None:
    try:
        asyncio.run(_drop(make_url(database_url)))
    except (OSError, asyncpg.PostgresError) as error:
        raise DatabaseError(f"dropping the database failed: {error!r}") from error


async def _connect(url: URL, database: str | None = None) -> asyncpg.Connection:
    return await asyncpg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=database or url.database,
    )


def _database_name(url: URL) -> str:
    """The URL's database as a quoted SQL identifier."""
    if not url.database:
        raise DatabaseError(f"the URL names no database: {url!r}")
    return '"' + url.database.replace('"', '""') + '"'


async def _drop(url: URL) -> None:
    connection = await _connect(url, MAINTENANCE_DATABASE)
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {_database_name(url)} WITH (FORCE)")
    finally:
        await connection.close()


def fresh_database(database_url: str) -> None:
    """Drop and recreate the database and run the migrations; no rows."""
    url = make_url(database_url)
    try:
        asyncio.run(_fresh(url))
    except (OSError, asyncpg.PostgresError) as error:
        raise DatabaseError(f"preparing the database failed: {error!r}") from error


async def _fresh(url: URL) -> None:
    await _drop(url)
    connection = await _connect(url, MAINTENANCE_DATABASE)
    try:
        await connection.execute(f"CREATE DATABASE {_database_name(url)}")
    finally:
        await connection.close()
    try:
        await _migrate(url)
    except BaseException:
        await _drop(url)
        raise


async def _prepare(url: URL, members: int, vacuum: bool = False) -> Seeded:
    await _fresh(url)
    try:
        rows = _members(random.Random(20240601), members)
        server_version = await _insert(url, rows, vacuum)
    except BaseException:
        await _drop(url)
        raise
    return Seeded(
        viewer_id=rows[0][0], target_id=rows[1][0], members=len(rows), server_version=server_version
    )


async def _insert(url: URL, rows: list[tuple[Any, ...]], vacuum: bool = False) -> str:
    """COPY the members and their role in; return the server's version. With ``vacuum``,
    VACUUM too, so that reads right after do not pay for the first visit of the new rows
    (hint bits, the visibility map) as a long-lived table would not."""
    connection = await _connect(url)
    try:
        await connection.copy_records_to_table("member", records=rows, columns=MEMBER_COLUMNS)
        granted = datetime.now(UTC)
        await connection.copy_records_to_table(
            "member_role",
            records=[(row[0], "member", granted) for row in rows],
            columns=("member_id", "role", "granted_at"),
        )
        await connection.execute("VACUUM ANALYZE" if vacuum else "ANALYZE")
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


async def _migrate(url: URL) -> None:
    alembic = Path(sys.executable).parent / "alembic"
    env = {"DL_DATABASE_URL": url.render_as_string(hide_password=False)}
    process = await asyncio.create_subprocess_exec(
        str(alembic),
        "upgrade",
        "head",
        cwd=ROOT,
        env=dict(os.environ) | env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise DatabaseError(f"alembic upgrade head failed:\n{output.decode(errors='replace')}")


def add_database_argument(parser: argparse.ArgumentParser, default: str) -> None:
    """``--database-url``: the database the benchmark drops, creates and seeds."""
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", default),
        help="database to drop, create and seed; its name must contain "
        "'bench' (default: $BENCH_DATABASE_URL or %(default)s)",
    )


def refuse_unless_bench(parser: argparse.ArgumentParser, database_url: str) -> None:
    """A benchmark drops its database: only one whose name says it belongs to a benchmark."""
    if "bench" not in (make_url(database_url).database or ""):
        parser.error("refusing to drop a database whose name does not contain 'bench'")


async def connect(database_url: str) -> asyncpg.Connection:
    """A raw asyncpg connection to the database of a SQLAlchemy URL."""
    return await _connect(make_url(database_url))


async def member_ids_with_admin(database_url: str) -> list[uuid.UUID]:
    """The seeded members' ids in order; the first is made an admin as well."""
    connection = await connect(database_url)
    try:
        ids = [r["id"] for r in await connection.fetch("SELECT id FROM member ORDER BY id")]
        await connection.execute(
            "INSERT INTO member_role (member_id, role, granted_at) VALUES ($1, 'admin', now())",
            ids[0],
        )
        return ids
    finally:
        await connection.close()


def _members(rng: random.Random, count: int) -> list[tuple[Any, ...]]:
    """``count`` plausible members, in MEMBER_COLUMNS order, the same on every run."""
    now = datetime.now(UTC).replace(microsecond=0)
    rows = []
    for index in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        function = rng.choice(FUNCTIONS)
        company = rng.choice(COMPANIES)
        created_at = now - timedelta(days=rng.randint(1, 3 * 365), seconds=rng.randint(0, 86399))
        updated_at = created_at + (now - created_at) * rng.random()
        email = f"{first}.{last}.{index}@example.com".lower()
        tags = rng.sample(TAGS, rng.randint(1, 5))
        slug = f"{first}-{last}-{index}".lower()
        rows.append(
            (
                uuid.UUID(int=rng.getrandbits(128), version=4),
                email,
                email,
                None,
                f"{first} {last}",
                f"+49 30 {rng.randint(1000000, 9999999)}",
                rng.choice(CITIES),
                function,
                rng.randint(1, 5),
                rng.choice(INDUSTRIES),
                json.dumps(tags),
                f"{JOB_TITLES[function]} at {company}; works on {', '.join(tags)}.",
                json.dumps([f"https://www.linkedin.com/in/{slug}"]),
                company,
                JOB_TITLES[function],
                rng.choice(VISIBILITIES),
                rng.choice(VISIBILITIES),
                rng.choice(VISIBILITIES),
                rng.choice(VISIBILITIES),
                "active",
                date.fromordinal(created_at.toordinal()),
                0,
                1,
                created_at,
                updated_at,
                None,
                created_at,
            )
        )
    return rows
