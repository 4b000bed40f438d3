"""The embedded SQLite database with two writers at once (a request and the in-process
worker): the second waits its turn instead of failing with "database is locked"."""

import asyncio
import os
import tempfile

from sqlalchemy import text

from app.core.db import create_autocommit_sessionmaker, create_engine, create_sessionmaker
from tests.conftest import make_settings


async def test_concurrent_read_then_write_transactions_both_commit():
    path = os.path.join(tempfile.mkdtemp(prefix="dl-sqlite-"), "writers.db")
    engine = create_engine(make_settings(database_url=f"sqlite+aiosqlite:///{path}"))
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE counter (n INTEGER)"))
        await connection.execute(text("INSERT INTO counter VALUES (0)"))
    maker = create_sessionmaker(engine)
    both_read = asyncio.Event()
    arrived = 0

    async def read_then_write() -> None:
        nonlocal arrived
        async with maker() as session:
            await session.execute(text("SELECT n FROM counter"))
            arrived += 1
            if arrived == 2:
                both_read.set()
            try:  # the first holds the write lock, so the second cannot even read yet
                await asyncio.wait_for(both_read.wait(), 0.2)
            except TimeoutError:
                pass
            await session.execute(text("UPDATE counter SET n = n + 1"))
            await session.commit()

    await asyncio.gather(read_then_write(), read_then_write())
    async with create_autocommit_sessionmaker(engine)() as session:
        assert (await session.execute(text("SELECT n FROM counter"))).scalar_one() == 2
    await engine.dispose()
