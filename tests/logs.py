"""Capturing what the app logs, formatted as `DL_LOG_FORMAT=json` formats it."""

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from app.core.logging import JsonFormatter


@contextmanager
def json_log_lines() -> Iterator[list[dict[str, Any]]]:
    """The JSON lines logged inside the block, parsed (the list fills when the block ends)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    lines: list[dict[str, Any]] = []
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        lines.extend(json.loads(line) for line in stream.getvalue().splitlines() if line)
