"""The engine, the session factory and the one-transaction-per-request dependency."""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.core.config import Settings
from app.core.errors import AppError

log = logging.getLogger(__name__)


def ensure_sqlite_directory(url: str) -> None:
    """A fresh clone has no var/: create the folder of an SQLite file before connecting."""
    database = make_url(url).database
    if url.startswith("sqlite") and database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


# Execution option marking SQLite sessions in which every statement commits on its own (see
# ``_sqlite_pragmas`` and ``create_autocommit_sessionmaker``).
SQLITE_AUTOCOMMIT = "dl_sqlite_autocommit"


def create_engine(settings: Settings) -> AsyncEngine:
    # hide_parameters: a database error logged with its statement must not carry the values
    # bound to it (names, e-mails, answers): SQLAlchemy then prints the SQL without them.
    if settings.is_sqlite:
        ensure_sqlite_directory(settings.database_url)
        engine = create_async_engine(settings.database_url, hide_parameters=True)
        _sqlite_pragmas(engine)
        return engine
    # No pool_pre_ping: it costs a round trip per request. After PostgreSQL restarts, the first
    # request on a dead connection fails with 503 and SQLAlchemy recycles the whole pool.
    return create_async_engine(
        settings.database_url,
        # No overflow: a connection beyond the pool is closed as soon as it is returned while
        # the pool is full, and in a burst that is all the time (the pool's queue fills before
        # the waiting requests wake up to take from it), so every burst opened and closed a
        # connection for one request in four: a backend forked, TLS tried, the dialect set up,
        # more CPU than the request's own queries. A fixed pool makes a burst wait its turn.
        pool_size=settings.database_pool_size,
        max_overflow=0,
        # A burst (200 people confirming at once) waits for a connection this long; past it
        # the answer is 503 with Retry-After. A dead server fails faster, at connect time.
        pool_timeout=settings.database_pool_timeout_seconds,
        connect_args={"timeout": settings.database_connect_timeout_seconds},
        hide_parameters=True,
    )


SIDE_LOCK_TIMEOUT_MS = 5000


def create_side_engine(settings: Settings) -> AsyncEngine | None:
    """PostgreSQL: a small pool of autocommit connections for the few statements that must
    commit at once, on their own, while the request's transaction is still open: taking a seat
    or a place in line. Run inside the request's transaction, such a statement would keep the
    event's row locked until that transaction commits, and every other confirmation for the
    event would queue behind it, for as long as the API takes to get back to each request on
    a busy event loop. On its own it holds the row for the statement only.

    A separate pool, so that a burst of requests, each holding a connection of the main pool,
    can never starve the side statements they wait for. None on SQLite: one writer at a time,
    the request's own transaction takes the seat."""
    if settings.is_sqlite:
        return None
    return create_async_engine(
        settings.database_url,
        pool_size=settings.database_side_pool_size,
        max_overflow=0,  # as for the main pool: no connection opened per statement in a burst
        pool_timeout=settings.database_pool_timeout_seconds,
        connect_args={
            "timeout": settings.database_connect_timeout_seconds,
            "server_settings": {
                # A side statement waits for the event's row only while another transaction
                # holds it, never long; a bound turns a mistake (a caller holding the row
                # itself, which would wait forever) into an error.
                "lock_timeout": f"{SIDE_LOCK_TIMEOUT_MS}",
                # Every side statement holds the event's row until its COMMIT, and they queue
                # on it one after another: without waiting for the WAL to reach the disk, the
                # row is free again in a third of the time. Nothing durable is risked. What a
                # side statement takes is kept by the request's own COMMIT, which does wait for
                # the disk, and by then the WAL holds the side statement, which came before it.
                # A crash can lose only side statements whose request never committed: a hold
                # the expiry job would have returned, or a place in line nobody was given.
                "synchronous_commit": "off",
            },
        },
        isolation_level="AUTOCOMMIT",
        hide_parameters=True,
    )


# session.info keys: the side engine a request's session may use (``side_engine``), and what to
# undo when the request fails (``on_failure``).
_SIDE_ENGINE = "dl_side_engine"
_ON_FAILURE = "dl_on_failure"

Compensation = Callable[[], Awaitable[None]]


def side_engine(session: AsyncSession) -> AsyncEngine | None:
    """The side engine of a request's session (``create_side_engine``), or None: on SQLite,
    outside requests (the worker, the CLI), and in sessions bound to one connection (a test's
    outer transaction, whose uncommitted rows another connection could not see)."""
    engine: AsyncEngine | None = session.info.get(_SIDE_ENGINE)
    return engine


def attach_side_engine(
    session: AsyncSession, maker: async_sessionmaker[AsyncSession], side: AsyncEngine | None
) -> None:
    """Let ``session`` (made by ``maker``) take seats on the side. Not when the maker is bound
    to one connection (a test's outer transaction): another connection would not see its
    rows."""
    if side is not None and isinstance(maker.kw.get("bind"), AsyncEngine):
        session.info[_SIDE_ENGINE] = side


def on_failure(session: AsyncSession, compensation: Compensation) -> None:
    """Undo a side statement's effect if the request fails: run when the request raises or its
    COMMIT fails. A compensation must be harmless when the transaction did commit after all
    (a COMMIT whose answer was lost), so it undoes only what the transaction did not consume."""
    session.info.setdefault(_ON_FAILURE, []).append(compensation)


async def compensate(session: AsyncSession) -> None:
    """Run (once) what ``on_failure`` registered: the work of ``session`` did not commit."""
    for compensation in session.info.pop(_ON_FAILURE, []):
        try:
            await compensation()
        except Exception:  # what a compensation leaves behind, a job finds and undoes later
            log.exception("a failed request could not undo a side statement")


def _sqlite_pragmas(engine: AsyncEngine) -> None:
    # The driver's own transaction handling breaks SAVEPOINTs; let SQLAlchemy emit BEGIN.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A transaction that reads, then writes, must upgrade its lock; when another writer
        # (a request, the in-process worker) committed meanwhile, SQLite refuses the upgrade at
        # once ("database is locked") instead of waiting. Writers therefore take the write lock
        # at BEGIN and wait their turn (busy_timeout). Autocommit sessions emit no BEGIN: each
        # statement is its own transaction, and one that writes waits its turn the same way.
        if not connection.get_execution_options().get(SQLITE_AUTOCOMMIT, False):
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def create_autocommit_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions in which every statement commits on its own: no transaction stays open between
    two statements. Two uses:

    - safe methods (GET, HEAD): a read needs no BEGIN/COMMIT round trips, and under READ
      COMMITTED each statement sees the same committed data a transaction would. The few writes
      a read makes (a token's ``last_used_at``, an audited read) wait their turn for SQLite's
      write lock instead of failing to upgrade a read transaction;
    - work that waits on the network between statements (the CRM sync): nothing is locked while
      Bitrix24 answers, so the API and the worker's other writes are never held up by it.

    Only for writes that stand alone: a change and its outbox event belong in one transaction.
    """
    if engine.dialect.name != "postgresql":
        return async_sessionmaker(
            engine.execution_options(**{SQLITE_AUTOCOMMIT: True}), expire_on_commit=False
        )
    return async_sessionmaker(
        engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
    )


def autocommit_twin(maker: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    """The autocommit sessions of ``maker``'s engine. A maker bound to one connection (inside
    an outer transaction) has no other connection to offer and is its own twin."""
    bind = maker.kw.get("bind")
    return create_autocommit_sessionmaker(bind) if isinstance(bind, AsyncEngine) else maker


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent (reads: see
    ``create_autocommit_sessionmaker``).

    Used with ``scope="function"`` so the commit runs when the route returns, not after the
    response left: a client never sees 201 for a write that failed to commit. An exception
    rolls everything back, except errors that declare ``keeps_writes`` (a failed login attempt
    must be counted even though the request fails).
    """
    safe = request.method in ("GET", "HEAD")
    maker = request.app.state.read_sessionmaker if safe else request.app.state.sessionmaker
    async with maker() as session:
        if not safe:
            attach_side_engine(session, maker, getattr(request.app.state, "side_engine", None))
        try:
            try:
                yield session
            except AppError as error:
                if error.keeps_writes:
                    await session.commit()
                raise
            await session.commit()
        except BaseException:
            await compensate(session)
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
