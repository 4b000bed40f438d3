"""Hot reads: a Core SELECT, built once, run on the session's own connection.

On PostgreSQL, in an autocommit session (every GET request's), the statement runs through the
driver itself: compiled once, its parameters and columns converted by the same SQLAlchemy types
as always, but without SQLAlchemy's per-execution machinery (parameter dictionaries, the cursor
emulation, result metadata), which costs more CPU than the query on the most frequent requests
(about 200 us of a 1.3 ms member read). Everywhere else, and whenever something watches the
statements (traces, a test counting them), it runs the usual way. So the repositories stay the
one data-access layer: they call ``rows`` and never see which path ran.
"""

from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

Row = dict[str, Any]


class _Compiled:
    """The statement's SQL for one dialect, with its parameter order and type conversions."""

    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if compiled.positiontup is None:
            raise ValueError("the dialect does not take positional parameters")
        self.sql = compiled.string
        self.names = tuple(compiled.positiontup)
        # Values the statement itself binds (a literal compared with): the defaults.
        self.defaults = {
            name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required
        }
        self.bind_processors = {
            name: processor
            for name in self.names
            if (processor := _bind_processor(compiled.binds[name].type, dialect)) is not None
        }
        columns = list(statement.selected_columns)
        self.keys = tuple(str(column.key) for column in columns)
        self.result_processors = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        ]
        self.any_result_processor = any(self.result_processors)

    def arguments(self, params: dict[str, Any]) -> list[Any]:
        values = {**self.defaults, **params}
        arguments = []
        for name in self.names:
            value = values[name]
            processor = self.bind_processors.get(name)
            arguments.append(value if processor is None else processor(value))
        return arguments

    def row(self, record: Any) -> Row:
        if not self.any_result_processor:
            return dict(zip(self.keys, record, strict=True))
        return {
            key: value if processor is None else processor(value)
            for key, value, processor in zip(self.keys, record, self.result_processors, strict=True)
        }


def _bind_processor(type_: Any, dialect: Dialect) -> Any:
    return type_.dialect_impl(dialect).bind_processor(dialect)


class HotRead:
    """A SELECT without expanding (list) parameters, whose rows come back as dicts of its
    columns' keys."""

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._compiled: _Compiled | None = None

    async def rows(self, session: AsyncSession, params: dict[str, Any]) -> list[Row]:
        connection = await session.connection()
        if not _driver_may_run(connection):
            return await self._through_sqlalchemy(connection, params)
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = _Compiled(self.statement, connection.dialect)
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None  # a checked-out connection has its driver's
        try:
            records = await driver.fetch(compiled.sql, *compiled.arguments(params))
        except Exception:
            # Run again the usual way: SQLAlchemy translates the error (a lost server is a 503)
            # and retires a dead connection from the pool, as for every other statement.
            return await self._through_sqlalchemy(connection, params)
        return [compiled.row(record) for record in records]

    async def _through_sqlalchemy(
        self, connection: AsyncConnection, params: dict[str, Any]
    ) -> list[Row]:
        result = await connection.execute(self.statement, params)
        keys = tuple(result.keys())
        # Plain dicts: reading a Row by name costs about ten times a dict lookup.
        return [dict(zip(keys, row, strict=True)) for row in result]


def _driver_may_run(connection: AsyncConnection) -> bool:
    """PostgreSQL, outside any transaction (an autocommit session), and nobody listening to
    the statements SQLAlchemy runs."""
    if connection.dialect.name != "postgresql":
        return False
    sync = connection.sync_connection
    if sync is None or sync.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
        return False
    dispatch = sync.dispatch
    return not (dispatch.before_cursor_execute or dispatch.after_cursor_execute)
