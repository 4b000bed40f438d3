"""Keyset pagination with opaque cursors: stable order, no offset scans, no count(*)."""

import base64
import json
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from app.core.errors import InvalidInput

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_CURSOR_LENGTH = 512

LimitQuery = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1 to {MAX_LIMIT}.")
]
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
