"""The engine as the app builds it."""

import logging

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

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
