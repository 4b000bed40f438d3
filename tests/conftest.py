"""Test setup: a database built by the migrations, one rolled-back transaction per test,
real tokens per role, and every error body checked to be problem+json.

``TEST_DATABASE_URL`` picks the database (default: a throwaway SQLite file). For PostgreSQL the
named database is dropped and created afresh.
"""

import asyncio
import json
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from alembic.config import Config
from sqlalchemy import MetaData, Table, delete, event, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from alembic import command
from app.core.config import Settings
from app.core.db import create_autocommit_sessionmaker, create_engine
from app.core.http import outbound_client
from app.main import create_app
from app.models.member import Member, MemberRole, Role
from app.models.outbox import OutboxEvent
from tests.error_bodies import (  # the session-end hooks: pytest finds them here
    pytest_deselected,
    pytest_sessionfinish,
    pytest_terminal_summary,
    record_error,
)
from tests.receivers import Receiver, serve

__all__ = ["pytest_deselected", "pytest_sessionfinish", "pytest_terminal_summary"]

TEST_SECRET = "test-secret-" + "s" * 40
TIMEPAD_SECRET = "фраза для подписи webhook'ов"


def _database_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    path = os.path.join(tempfile.mkdtemp(prefix="dl-test-"), "test.db")
    return f"sqlite+aiosqlite:///{path}"


DATABASE_URL = _database_url()
IS_POSTGRES = DATABASE_URL.startswith("postgresql")


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": DATABASE_URL,
        "jwt_secret": TEST_SECRET,
        "password_hash_memory_kib": 64,
        "password_hash_time_cost": 1,
        "cors_origins": ["https://app.digital-leaders.test"],
        # Local receivers (webhooks, fakes) listen on the loopback address.
        "webhook_allowed_http_hosts": ["127.0.0.1"],
        "timepad_webhook_secret": TIMEPAD_SECRET,
    }
    values.update(overrides)
    return Settings(**values)


def production_settings(**overrides: Any) -> Settings:
    """The test settings as production takes them: no development default left (the suite's
    database may be SQLite, so that is allowed explicitly)."""
    values: dict[str, Any] = {
        "environment": "production",
        "mail_transport": "smtp",
        "smtp_host": "smtp.digital-leaders.test",
        "web_app_url": "https://app.digital-leaders.test",
        "public_api_url": "https://api.digital-leaders.test",
        "allow_sqlite_in_production": True,
    }
    return make_settings(**(values | overrides))


async def _recreate_postgres_database(url: str, *, create: bool = True) -> None:
    """Drop the database of ``url`` and (unless ``create`` is false) create it empty."""
    import asyncpg

    parsed = make_url(url)
    admin = await asyncpg.connect(
        host=parsed.host,
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        database="postgres",
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        if create:
            await admin.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await admin.close()


def migrate(url: str) -> None:
    config = Config("alembic.ini")
    config.attributes["database_url"] = url
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


@pytest.fixture(scope="session")
def migrated_database() -> str:
    if IS_POSTGRES:
        asyncio.run(_recreate_postgres_database(DATABASE_URL))
    migrate(DATABASE_URL)
    return DATABASE_URL


@pytest.fixture(scope="session")
def settings(migrated_database: str) -> Settings:
    return make_settings()


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def app(settings: Settings) -> Any:
    return create_app(settings)


@pytest.fixture
async def db(app: Any, engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """The test's transaction. The app's sessions join it through savepoints; it is rolled
    back at the end, so tests never see each other's data."""
    async with engine.connect() as connection:
        outer = await connection.begin()
        maker = async_sessionmaker(
            bind=connection,
            class_=AsyncSession,
            expire_on_commit=False,
            join_transaction_mode="create_savepoint",
        )
        app.state.sessionmaker = app.state.read_sessionmaker = maker
        async with maker() as session:
            yield session
        await outer.rollback()


@pytest.fixture
async def client(app: Any, db: AsyncSession) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        event_hooks={"response": [record_error]},
    ) as client:
        yield client


@dataclass
class Actor:
    member: Member
    token: str
    id: uuid.UUID  # kept apart from the row, which expires with the session

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Factory:
    def __init__(self, app: Any, db: AsyncSession):
        self.app = app
        self.db = db
        self.counter = 0

    async def member(self, *roles: Role | str, **fields: Any) -> Actor:
        self.counter += 1
        email = fields.pop("email", f"person{self.counter}-{uuid.uuid4().hex[:6]}@example.com")
        # Verified unless a test says otherwise: most tests are about what comes after.
        fields.setdefault("email_verified_at", datetime.now(UTC))
        member = Member(
            email=email,
            email_normalized=email.lower(),
            full_name=fields.pop("full_name", f"Person {self.counter}"),
            **fields,
        )
        self.db.add(member)
        await self.db.flush()
        role_list = list(roles) or [Role.member]
        self.db.add_all(MemberRole(member_id=member.id, role=str(r)) for r in role_list)
        await self.db.flush()
        token = self.app.state.token_codec.issue(
            member.id, [str(r) for r in role_list], member.token_version
        )
        return Actor(member=member, token=token, id=member.id)

    async def with_password(self, password: str, *roles: Role, **fields: Any) -> Actor:
        password_hash = await self.app.state.password_hasher.hash(password)
        return await self.member(*roles, password_hash=password_hash, **fields)


@pytest.fixture
def factory(app: Any, db: AsyncSession) -> Factory:
    return Factory(app, db)


@pytest.fixture
def count_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """Collects the SQL statements the test runs (on every connection of the engine)."""
    statements: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    yield statements
    event.remove(engine.sync_engine, "before_cursor_execute", before)


def body_text(response: httpx.Response) -> str:
    return json.dumps(response.json()) if response.content else ""


async def outbox_events(db: AsyncSession, event_type: str | None = None) -> list[OutboxEvent]:
    """The outbox rows the test's transaction holds (optionally of one type), oldest first."""
    query = select(OutboxEvent).order_by(OutboxEvent.occurred_at, OutboxEvent.id)
    if event_type is not None:
        query = query.where(OutboxEvent.type == event_type)
    return list((await db.execute(query)).scalars())


# Tables the migrations fill and the tests never change: emptying them would break later tests.
SEEDED_TABLES = {"alembic_version", "decision_rule", "rubric_criterion"}


@asynccontextmanager
async def seeded_tables_kept(engine: AsyncEngine) -> AsyncIterator[None]:
    """For a test that changes what the migrations seeded on committing sessions (the contract
    fuzz PUTs a decision rule): those rows are put back as they were afterwards."""
    names = sorted(SEEDED_TABLES - {"alembic_version"})

    def reflect(connection: Any) -> list[Table]:
        metadata = MetaData()
        return [Table(name, metadata, autoload_with=connection) for name in names]

    async with engine.connect() as connection:
        tables = await connection.run_sync(reflect)
        saved = {
            t.name: [dict(r._mapping) for r in await connection.execute(select(t))] for t in tables
        }
    try:
        yield
    finally:
        async with engine.begin() as connection:
            for table in tables:
                await connection.execute(delete(table))
                if saved[table.name]:
                    await connection.execute(insert(table), saved[table.name])


async def truncate_all(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        names = [
            name
            for name in (await connection.run_sync(lambda c: c.dialect.get_table_names(c)))
            if name not in SEEDED_TABLES
        ]
        if connection.dialect.name == "sqlite":
            # SQLite has no TRUNCATE; with the foreign keys checked only at COMMIT, the tables
            # can be emptied in any order.
            await connection.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
            for name in names:
                await connection.exec_driver_sql(f'DELETE FROM "{name}"')
            return
        await connection.execute(text(f"TRUNCATE {', '.join(names)} CASCADE"))


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    """A webhook receiver on a real local port, and its base URL."""
    receiver = Receiver()
    async with serve(receiver.app()) as base:
        yield receiver, base


@pytest.fixture
async def webhook_client() -> AsyncIterator[httpx.AsyncClient]:
    """The outbound HTTP client deliveries use, allowed to reach the loopback receivers."""
    async with outbound_client(["127.0.0.1"], 2.0) as client:
        yield client


@pytest.fixture
async def live(app: Any, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The app on real, committing sessions; every table emptied afterwards."""
    app.state.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    app.state.read_sessionmaker = create_autocommit_sessionmaker(engine)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client
    finally:
        await truncate_all(engine)


async def committed_member(
    app: Any, engine: AsyncEngine, *roles: str
) -> tuple[Member, dict[str, str]]:
    """A member committed for real (tests on live sessions), with their auth headers."""
    maker = async_sessionmaker(engine, expire_on_commit=False)
    async with maker() as session:
        email = f"race-{uuid.uuid4().hex[:8]}@example.com"
        member = Member(
            email=email,
            email_normalized=email,
            password_hash=await app.state.password_hasher.hash("a long password"),
            email_verified_at=datetime.now(UTC),
        )
        session.add(member)
        await session.flush()
        session.add_all(MemberRole(member_id=member.id, role=r) for r in roles or ["member"])
        await session.commit()
    token = app.state.token_codec.issue(member.id, list(roles or ["member"]), 0)
    return member, {"Authorization": f"Bearer {token}"}
