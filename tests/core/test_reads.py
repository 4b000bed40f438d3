"""Hot reads through PostgreSQL's driver: the same rows and the same answers as through
SQLAlchemy, the usual path wherever it must be, and a dead connection handled as before."""

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, text, update
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.core import reads
from app.core.db import create_autocommit_sessionmaker
from app.members import repository
from app.members.repository import Audience, MemberFilters
from app.models.member import Member
from tests.conftest import IS_POSTGRES, committed_member
from tests.problems import assert_problem

pytestmark = pytest.mark.skipif(not IS_POSTGRES, reason="the driver path is PostgreSQL's")


async def _community(app, engine) -> tuple[Member, dict[str, str], list[Member]]:
    """A reader and five members whose rows hold every kind of value the directory reads."""
    reader, headers = await committed_member(app, engine, "member")
    shown = [(await committed_member(app, engine, "member"))[0] for _ in range(5)]
    async with engine.begin() as connection:
        for number, member in enumerate(shown):
            await connection.execute(
                update(Member)
                .where(Member.id == member.id)
                .values(
                    full_name=f"Member {number}",
                    city="Kazan" if number % 2 else None,
                    seniority=number % 5 + 1,
                    expertise_tags=["cloud", f"tag-{number}"],
                    links=[f"https://example.org/{number}"],
                    member_since=date(2025, 1, 1) + timedelta(days=number),
                    company=f"Company {number}",
                    company_visibility=("public", "members", "table", "nobody", "members")[number],
                    created_at=_created(number),
                )
            )
    return reader, headers, shown


def _created(number: int) -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=number)


class _Watch:
    """Which path ran: counts SQLAlchemy's own executions of the hot reads."""

    def __init__(self, monkeypatch) -> None:
        self.through_sqlalchemy = 0
        original = reads.HotRead._through_sqlalchemy

        async def counted(read, connection, params):
            self.through_sqlalchemy += 1
            return await original(read, connection, params)

        monkeypatch.setattr(reads.HotRead, "_through_sqlalchemy", counted)


async def test_the_driver_reads_what_sqlalchemy_reads(app, engine, monkeypatch):
    reader, _, shown = await _community(app, engine)
    maker = create_autocommit_sessionmaker(engine)
    cases = [
        dict(sort=None, filters=MemberFilters(), after=None),
        dict(sort="full_name", filters=MemberFilters(), after=None),
        dict(sort="-created_at", filters=MemberFilters(), after=None),
        dict(sort="full_name", filters=MemberFilters(tag="cloud", city="kazan"), after=None),
        dict(sort="created_at", filters=MemberFilters(), after=(_created(1), shown[1].id)),
    ]
    watch = _Watch(monkeypatch)
    try:
        for audience in (Audience.directory, Audience.everyone):
            for case in cases:
                async with maker() as session:
                    if case["sort"] is None:
                        read = await repository.get_visible_member(
                            session, shown[2].id, viewer_id=reader.id, audience=audience
                        )
                        driven = [read]
                    else:
                        driven = await repository.list_members(
                            session, viewer_id=reader.id, audience=audience, limit=10, **case
                        )
                    assert watch.through_sqlalchemy == 0  # the driver ran
                    hot = repository._directory_read(
                        "postgresql",
                        audience,
                        frozenset(repository.filter_params(case["filters"])),
                        case["sort"],
                        case["after"] is not None,
                    )
                    params = {
                        **repository.filter_params(case["filters"]),
                        "viewer_id": reader.id,
                        "member_id": shown[2].id,
                        "limit": 11,
                    }
                    if case["after"] is not None:
                        params.update(after_key=case["after"][0], after_id=case["after"][1])
                    connection = await session.connection()
                    usual = await hot._through_sqlalchemy(connection, params)
                    watch.through_sqlalchemy = 0
                    if case["sort"] is None:
                        usual = usual[:1]
                    assert driven == usual, case
                    assert driven and all(
                        type(a) is type(b)
                        for a, b in zip(driven[0].values(), usual[0].values(), strict=True)
                    )
        # The values came back typed: ids, dates, aware times, decoded JSON.
        assert isinstance(driven[0]["id"], uuid.UUID)
        assert driven[0]["created_at"].tzinfo is not None
        assert isinstance(driven[0]["expertise_tags"], list)
    finally:
        from tests.conftest import truncate_all

        await truncate_all(engine)


async def test_the_answers_are_the_same_through_either_path(app, engine, live):
    reader, headers, shown = await _community(app, engine)
    urls = [
        "/api/v1/members?limit=3",
        "/api/v1/members?sort=-created_at&tag=cloud",
        f"/api/v1/members/{shown[2].id}",
        f"/api/v1/members/{shown[3].id}",
    ]
    driven = [(await live.get(url, headers=headers)) for url in urls]
    # Someone watching the statements (traces, a test counting them) sends every read the
    # usual way, so they see it.
    seen: list[str] = []

    def watch(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", watch)
    try:
        usual = [(await live.get(url, headers=headers)) for url in urls]
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", watch)
    assert any("FROM member" in s for s in seen)
    for one, other in zip(driven, usual, strict=True):
        assert one.status_code == other.status_code == 200
        assert one.json() == other.json()
    page = driven[0].json()["items"]
    assert [m["full_name"] for m in page] == ["", "Member 0", "Member 1"]  # the reader first
    assert page[1]["company"] == "Company 0" and page[2]["company"] == "Company 1"


async def test_a_dead_connection_is_a_503_then_the_pool_recovers(app, engine, live):
    reader, headers, shown = await _community(app, engine)
    url = f"/api/v1/members/{shown[0].id}"
    assert (await live.get(url, headers=headers)).status_code == 200
    # From a connection of its own: the pooled ones are the ones to end.
    outsider = create_async_engine(engine.url, poolclass=NullPool)
    async with outsider.connect() as connection:
        ended = await connection.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    await outsider.dispose()
    assert ended >= 1
    answers = [(await live.get(url, headers=headers)) for _ in range(3)]
    statuses = [a.status_code for a in answers]
    # As through SQLAlchemy: the read on the dead connection is a 503, the pool is renewed.
    assert statuses == [503, 200, 200], statuses
    assert_problem(answers[0])
    assert answers[0].headers.get("retry-after")
    assert answers[1].json() == answers[2].json()
