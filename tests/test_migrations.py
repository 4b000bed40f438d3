"""Migrations: up from empty, down to empty, up again, on the suite's database kind."""

import asyncio
import os
import tempfile

from alembic.config import Config
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from alembic import command
from tests.conftest import DATABASE_URL, IS_POSTGRES, _recreate_postgres_database


def _scratch_url() -> str:
    if IS_POSTGRES:
        url = make_url(DATABASE_URL)
        return url.set(database=f"{url.database}_migrations").render_as_string(hide_password=False)
    return "sqlite+aiosqlite:///" + os.path.join(tempfile.mkdtemp(prefix="dl-mig-"), "m.db")


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    return names - {"alembic_version"}


async def test_upgrade_downgrade_upgrade():
    url = _scratch_url()
    if IS_POSTGRES:
        await _recreate_postgres_database(url)
    config = Config("alembic.ini")
    config.attributes["database_url"] = url
    config.attributes["configure_logger"] = False
    # Alembic runs its own event loop, so it gets a thread of its own.
    await asyncio.to_thread(command.upgrade, config, "head")
    assert await _tables(url) == set(SQLModel.metadata.tables)
    await asyncio.to_thread(command.downgrade, config, "base")
    assert await _tables(url) == set()
    await asyncio.to_thread(command.upgrade, config, "head")
    assert await _tables(url) == set(SQLModel.metadata.tables)
    if IS_POSTGRES:
        await _recreate_postgres_database(url, create=False)  # leave no scratch database
