"""The engine as the app builds it."""

import asyncio
import logging

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from app.core.db import create_engine, create_side_engine
from tests.conftest import IS_POSTGRES

CANARY = "canary-4d1f@example.com"


async def test_a_failed_statement_logs_and_raises_without_its_values(engine, caplog):
    """A database error reaches the log with its SQL (logger.exception in the error handler):
    the values bound to it, personal data mostly, stay out of both the message and the log."""
    with caplog.at_level(logging.DEBUG, logger="sqlalchemy.engine"):
        async with engine.connect() as connection:
            with pytest.raises(DBAPIError) as raised:
                await connection.execute(
                    text("SELECT * FROM no_such_table WHERE email = :email"), {"email": CANARY}
                )
    assert "no_such_table" in str(raised.value)
    assert CANARY not in str(raised.value)
    assert CANARY not in caplog.text


@pytest.mark.parametrize("which", ["main", "side"])
async def test_a_burst_beyond_the_pool_waits_instead_of_opening_connections(settings, which):
    """Forty checkouts at once on a pool of four, in waves, as a burst of registrations makes
    them: four connections are opened, once, and reused. An overflow connection would be
    closed as soon as it was returned to a full pool, and opened again for the next request
    (a backend forked, the dialect set up), which cost the burst more than its queries."""
    if not IS_POSTGRES:
        pytest.skip("SQLite has no connection pool to size")
    small = settings.model_copy(update={"database_pool_size": 4, "database_side_pool_size": 4})
    engine = create_engine(small) if which == "main" else create_side_engine(small)
    assert engine is not None
    opened = []
    event.listen(engine.sync_engine, "connect", lambda *_: opened.append(1))
    most_at_once = 0
    at_once = 0

    async def one_request() -> None:
        nonlocal at_once, most_at_once
        async with engine.connect() as connection:
            at_once += 1
            most_at_once = max(most_at_once, at_once)
            await connection.execute(text("SELECT pg_sleep(0.01)"))
            at_once -= 1

    try:
        for _ in range(4):
            await asyncio.gather(*(one_request() for _ in range(10)))
        assert (len(opened), most_at_once) == (4, 4)
    finally:
        await engine.dispose()
