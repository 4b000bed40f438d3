"""One keyset-cursor decoder (app.core.pagination): what it accepts, and that every list keyed
on (a timestamp, the id) refuses a forged cursor with the same problem."""

import uuid
from datetime import UTC, datetime

import pytest

from app.core.pagination import (
    InvalidCursor,
    decode_keyset_cursor,
    decode_time_cursor,
    encode_cursor,
    encode_time_cursor,
)

ROW = uuid.UUID(int=7)
MOMENT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def test_a_time_cursor_round_trips():
    assert decode_time_cursor(encode_time_cursor("s", MOMENT, ROW), "s") == (MOMENT, ROW)


@pytest.mark.parametrize("cursor", [None, ""])
def test_no_cursor_is_the_first_page(cursor):
    assert decode_time_cursor(cursor, "s") is None
    assert decode_keyset_cursor(cursor, "s", str) is None


def test_a_key_other_than_a_time_is_read_by_the_caller():
    assert decode_keyset_cursor(encode_cursor("name", ["Ann", str(ROW)]), "name", str) == (
        "Ann",
        ROW,
    )


@pytest.mark.parametrize(
    "values",
    [
        ["2026-01-01T00:00:00", str(ROW)],  # naive
        ["not a time", str(ROW)],
        [MOMENT.isoformat(), "not-a-uuid"],
        [{"a": 1}, []],
    ],
)
def test_forged_values_are_malformed(values):
    with pytest.raises(InvalidCursor, match="^The cursor is malformed.$"):
        decode_time_cursor(encode_cursor("s", values), "s")


@pytest.mark.parametrize(
    "cursor", ["garbage", encode_cursor("other", [MOMENT.isoformat(), str(ROW)])]
)
def test_an_unreadable_cursor_or_one_of_another_sort_is_refused(cursor):
    with pytest.raises(InvalidCursor, match="another sort order"):
        decode_time_cursor(cursor, "s")


# The lists that decoded their cursors each in their own way before: (role, path, query, the
# sort the cursor names).
TIME_KEYED_LISTS = [
    ("member", "/api/v1/events", {}, "events:all"),
    ("member", "/api/v1/applications", {}, "-created_at"),
    ("reviewer", "/api/v1/reviews/queue", {}, "queue"),
    ("member", "/api/v1/members", {"sort": "created_at"}, "created_at"),
]


@pytest.mark.parametrize(("role", "path", "query", "sort"), TIME_KEYED_LISTS)
async def test_every_time_keyed_list_refuses_a_naive_time_alike(
    client, factory, role, path, query, sort
):
    caller = await factory.member(role)
    cursor = encode_cursor(sort, ["2026-01-01T00:00:00", str(ROW)])
    response = await client.get(path, headers=caller.headers, params={**query, "cursor": cursor})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["type"] == "/problems/invalid-cursor"
    assert body["title"] == "Invalid cursor"
    assert body["detail"] == "The cursor is malformed."
