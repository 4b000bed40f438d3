"""Logging from the settings: plain text for a terminal, or one JSON object per line for a log
collector (`DL_LOG_FORMAT=json`, which the Docker image sets).

The standard `logging` module with a small formatter of our own, not a logging framework:
every module already logs through `logging.getLogger(...)`, and a formatter plus a context
variable is all it takes to add the request's and the worker's fields to each line. The
fields travel in a `ContextVar`, so a line logged anywhere below the middleware (a service, an
error handler, a channel) carries the request id without being handed it.
"""

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from app.core.config import Settings

# The fields of the request or the worker's unit of work in progress. One dict per unit:
# code below the middleware adds to it (`bind`), so what it learns (the route, the
# principal) reaches the access-log line written when the response has gone.
_context: ContextVar[dict[str, Any] | None] = ContextVar("dl_log_context", default=None)

# Attributes every LogRecord has; anything else on a record came from `extra=`. uvicorn adds
# its message again with terminal colours (`color_message`), which a collector has no use for.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}
_HANDLER_MARK = "_dl_handler"


def current_context() -> dict[str, Any]:
    return dict(_context.get() or {})


def bind(**fields: Any) -> None:
    """Add fields to the unit of work in progress (ignored outside one)."""
    context = _context.get()
    if context is not None:
        context.update(fields)


@contextmanager
def log_context(**fields: Any) -> Iterator[dict[str, Any]]:
    """Fields every line logged inside the block carries (nested blocks add to the outer)."""
    context = {**(_context.get() or {}), **fields}
    token = _context.set(context)
    try:
        yield context
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the context's fields, the
    record's `extra` fields and, for an error, the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(current_context())
        entry.update(
            (key, value)
            for key, value in vars(record).items()
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_")
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The classic line, with the context's fields appended as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = current_context()
        if not context:
            return line
        fields = " ".join(f"{key}={value}" for key, value in context.items())
        first, newline, rest = line.partition("\n")
        return f"{first} [{fields}]{newline}{rest}"


def formatter_for(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure_logging(settings: Settings) -> None:
    """One handler on the root logger, to stderr, in the chosen format. Calling it again (a
    second app in one process, as in the tests) replaces our handler and leaves others'."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter_for(settings.log_format))
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    if settings.log_format == "json":
        # uvicorn's own lines (startup, errors) go through the same handler, so a collector
        # reads nothing but JSON. Its access log only if it is on: `--no-access-log` leaves
        # the logger without handlers and not propagating, and uvicorn logs access whenever
        # the logger has a handler somewhere up the tree, so propagating would turn it on.
        # `app.access` writes one line per request with the route template and the request id.
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            uvicorn_logger = logging.getLogger(name)
            if name == "uvicorn.access" and not uvicorn_logger.handlers:
                continue
            uvicorn_logger.handlers.clear()
            uvicorn_logger.propagate = True
