"""Keyset pagination with opaque cursors: stable order, no offset scans, no count(*)."""

import base64
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from app.core.errors import InvalidInput

T = TypeVar("T")
K = TypeVar("K")

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_CURSOR_LENGTH = 512

LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1 to {MAX_LIMIT}.")]
CursorQuery = Annotated[
    str | None,
    Query(max_length=MAX_CURSOR_LENGTH, description="The `next_cursor` of the previous page."),
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class InvalidCursor(InvalidInput):
    slug, title = "invalid-cursor", "Invalid cursor"


def encode_cursor(sort: str, values: list[Any]) -> str:
    raw = json.dumps({"s": sort, "v": values}, separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str, arity: int) -> list[Any]:
    """The key values a cursor carries; a cursor made for another sort order is refused."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        values = data["v"]
        if data["s"] != sort or not isinstance(values, list) or len(values) != arity:
            raise ValueError
    except (ValueError, KeyError, TypeError) as error:
        raise InvalidCursor("The cursor is malformed or belongs to another sort order.") from error
    return values


def decode_keyset_cursor(
    cursor: str | None, sort: str, read_key: Callable[[str], K]
) -> tuple[K, uuid.UUID] | None:
    """The (sort key, id) pair a keyset cursor carries, the key read by ``read_key``; None for
    the first page. Every list keyed on (a value, the row id) decodes its cursor here, so a
    forged cursor is refused the same way everywhere."""
    if not cursor:
        return None
    raw_key, raw_id = decode_cursor(cursor, sort, 2)
    try:
        return read_key(str(raw_key)), uuid.UUID(str(raw_id))
    except (TypeError, ValueError) as error:
        raise InvalidCursor("The cursor is malformed.") from error


def aware_time(text: str) -> datetime:
    """A cursor's timestamp: ISO 8601 with an offset (a cursor is client input: no naive times,
    which would not compare with the stored ones)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("naive timestamp")
    return moment


def decode_time_cursor(cursor: str | None, sort: str) -> tuple[datetime, uuid.UUID] | None:
    """The (timestamp, id) key of a time-ordered list's cursor; None for the first page."""
    return decode_keyset_cursor(cursor, sort, aware_time)


def encode_time_cursor(sort: str, moment: datetime, row_id: uuid.UUID) -> str:
    return encode_cursor(sort, [moment.isoformat(), str(row_id)])
