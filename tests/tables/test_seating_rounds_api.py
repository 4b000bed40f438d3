"""Rounds through HTTP: an event seats everyone several times; the admin generates every
round together, previews, adjusts one round, publishes all; members see a table per round and
cases are scheduled to a table and a round."""

import uuid

from sqlalchemy import select

from app.auth.revocations import token_versions
from app.models.case import Case
from app.models.table import EventTable, SeatingPlan, TableSeat
from app.notifications import repository as notifications_repository
from tests.cases.test_cases_api import act, bring
from tests.problems import assert_problem
from tests.tables.helpers import attend, seated_event


def url(event: dict, rest: str = "") -> str:
    return f"/api/v1/events/{event['id']}/seating{rest}"


def rounds_of(plan: dict) -> list[list[set[str]]]:
    return [[{a["member_id"] for a in t["attendees"]} for t in r["tables"]] for r in plan["rounds"]]


async def three_round_event(client, db, factory):
    """Ten attendees at tables of four (4, 3 and 3 seats), three facilitators, two colleagues
    and three accepted cases."""
    admin = await factory.member("admin")
    event, actors = await seated_event(client, db, factory, admin, 8, facilitators=3)
    colleagues = [await factory.member(company=name) for name in ("Acme", "ACME LLC")]
    await attend(db, event["id"], *colleagues)
    cases = []
    for author in actors[3:6]:
        case = await bring(client, author, event)
        cases.append(await act(client, admin, case, "accept"))
    return admin, event, actors, colleagues, cases


class TestRounds:
    async def test_generate_adjust_publish_and_read_every_round(self, client, db, factory):
        admin, event, actors, colleagues, cases = await three_round_event(client, db, factory)
        everyone = {str(a.id) for a in actors + colleagues}
        facilitators = [str(a.id) for a in actors[:3]]
        authors = {str(a.id) for a in actors[3:6]}

        response = await client.post(
            url(event),
            headers=admin.headers,
            json={"seed": 1, "time_limit_s": 5, "rounds": 3, "facilitators_stay": True},
        )
        assert response.status_code == 201, response.text
        plan = response.json()
        rounds = rounds_of(plan)
        assert [r["round"] for r in plan["rounds"]] == [1, 2, 3]
        assert plan["tables"] == plan["rounds"][0]["tables"]
        colleague_ids = {str(c.id) for c in colleagues}
        for tables in rounds:
            assert set().union(*tables) == everyone and sum(map(len, tables)) == 10
            assert sorted(len(t) for t in tables) == [3, 3, 4]
            assert all(len(t & colleague_ids) <= 1 for t in tables)
            assert all(len(t & set(facilitators)) == 1 for t in tables)
        # Each facilitator keeps their table through the rounds.
        for facilitator in facilitators:
            assert len({next(i for i, t in enumerate(r) if facilitator in t) for r in rounds}) == 1
        # One case per round, each author at a table of their own in it.
        assert set(plan["case_rounds"]) == authors
        assert sorted(plan["case_rounds"].values()) == [1, 2, 3]
        metrics = plan["metrics"]
        assert metrics["hard_violations"] == 0
        assert metrics["gap"] == metrics["repeated_pairs"] - metrics["lower_bound"] >= 0
        assert metrics["repeated_pairs"] == sum(
            r["metrics"]["repeated_pairs"] for r in plan["rounds"]
        )

        preview = await client.get(url(event), headers=admin.headers)
        assert preview.status_code == 200 and preview.json()["rounds"] == plan["rounds"]

        # A move in round 2: someone free from the four-seat table to another one.
        second = rounds[1]
        big = next(i for i, t in enumerate(second) if len(t) == 4)
        mover = sorted(second[big] - set(facilitators) - colleague_ids)[0]
        target = next(i for i in range(3) if i != big)
        response = await client.post(
            url(event, "/moves"),
            headers=admin.headers,
            json={"member_id": mover, "table": target + 1, "round": 2},
        )
        assert response.status_code == 200, response.text
        moved = response.json()
        assert mover in rounds_of(moved)[1][target]
        assert rounds_of(moved)[0] == rounds[0] and rounds_of(moved)[2] == rounds[2]
        assert moved["version"] == plan["version"] + 1
        stored = (await db.execute(select(SeatingPlan))).scalar_one()
        await db.refresh(stored)
        assert mover in stored.rounds["tables"][1][str(target + 1)]

        # Moving the facilitator of the four-seat table leaves it without one: refused.
        second = rounds_of(moved)[1]
        big = next(i for i, t in enumerate(second) if len(t) == 4)
        facilitator = next(f for f in facilitators if f in second[big])
        refused = await client.post(
            url(event, "/moves"),
            headers=admin.headers,
            json={"member_id": facilitator, "table": (big + 1) % 3 + 1, "round": 2},
        )
        assert refused.status_code == 409
        assert_problem(refused)
        problem = refused.json()
        assert problem["type"] == "/problems/seating-rule-broken"
        assert problem["detail"].startswith("Round 2: rule 'facilitators'"), problem
        unchanged = (await client.get(url(event), headers=admin.headers)).json()
        assert unchanged["rounds"] == moved["rounds"]

        published = await client.post(url(event, "/publish"), headers=admin.headers)
        assert published.status_code == 200, published.text
        final = rounds_of(published.json())
        tables = (await db.execute(select(EventTable))).scalars().all()
        assert sorted((t.round, t.number) for t in tables) == [
            (r, n) for r in (1, 2, 3) for n in (1, 2, 3)
        ]
        seats = (await db.execute(select(TableSeat))).scalars().all()
        assert len(seats) == 30 and {s.round for s in seats} == {1, 2, 3}
        # "Your table is ready" goes to each seated member once, not once per round.
        hear = await notifications_repository.seated_members(db, uuid.UUID(event["id"]))
        assert sorted(map(str, hear)) == sorted(everyone)
        by_id = {t.id: t for t in tables}
        for seat in seats:
            table = by_id[seat.table_id]
            assert seat.round == table.round
            assert str(seat.member_id) in final[table.round - 1][table.number - 1]

        # A member sees their table in every round.
        member = next(a for a in actors if str(a.id) == mover)
        mine = await client.get(f"/api/v1/events/{event['id']}/tables/mine", headers=member.headers)
        assert mine.status_code == 200, mine.text
        body = mine.json()
        assert [t["round"] for t in body["rounds"]] == [1, 2, 3]
        assert body["id"] == body["rounds"][0]["id"]
        for number, table in enumerate(body["rounds"], start=1):
            mates = {m["member_id"] for m in table["members"]}
            assert mates == final[number - 1][table["number"] - 1] and mover in mates
        assert body["rounds"][1]["number"] == target + 1

        # Every case is scheduled at its author's table in its round.
        for case in cases:
            row = await db.get(Case, uuid.UUID(case["id"]))
            assert row is not None
            await db.refresh(row)
            assert row.status == "scheduled"
            assert row.round == published.json()["case_rounds"][str(row.author_id)]
            table = by_id[row.table_id]
            assert table.round == row.round
            assert str(row.author_id) in final[row.round - 1][table.number - 1]
            read = await client.get(f"/api/v1/cases/{case['id']}", headers=admin.headers)
            assert read.json()["round"] == row.round
            assert read.json()["table_id"] == str(row.table_id)

    async def test_bad_rounds_are_refused(self, client, db, factory):
        admin, event, *_ = await three_round_event(client, db, factory)
        too_many = await client.post(url(event), headers=admin.headers, json={"rounds": 13})
        assert too_many.status_code == 422
        assert_problem(too_many)
        plan = (
            await client.post(url(event), headers=admin.headers, json={"rounds": 2, "seed": 2})
        ).json()
        member = plan["tables"][0]["attendees"][0]["member_id"]
        beyond = await client.post(
            url(event, "/moves"),
            headers=admin.headers,
            json={"member_id": member, "table": 2, "round": 3},
        )
        assert beyond.status_code == 409
        assert_problem(beyond)
        assert beyond.json()["detail"] == "There is no round 3; the plan has 2."
        zero = await client.post(
            url(event, "/swaps"),
            headers=admin.headers,
            json={"member_id": member, "other_member_id": member, "round": 0},
        )
        assert zero.status_code == 422
        assert_problem(zero)

    async def test_pins_and_pairs_kept_apart_hold_in_every_round(self, client, db, factory):
        admin, event, actors, colleagues, _ = await three_round_event(client, db, factory)
        plan = (
            await client.post(url(event), headers=admin.headers, json={"rounds": 3, "seed": 3})
        ).json()
        pinned = str(actors[7].id)
        response = await client.put(
            url(event, f"/pins/{pinned}"), headers=admin.headers, json={"table": 2}
        )
        assert response.status_code == 200, response.text
        current = (await client.get(url(event), headers=admin.headers)).json()
        assert all(pinned in r[1] for r in rounds_of(current))
        assert current["metrics"]["hard_violations"] == 0
        # Two who share a table in some round are kept apart: every round is adjusted.
        a, b = next(
            (x, y)
            for tables in rounds_of(current)
            for t in tables
            for x in sorted(t)
            for y in sorted(t)
            if x < y and pinned not in (x, y)
        )
        response = await client.post(
            url(event, "/keep-apart"), headers=admin.headers, json={"member_ids": [a, b]}
        )
        assert response.status_code == 200, response.text
        after = (await client.get(url(event), headers=admin.headers)).json()
        assert not any({a, b} <= t for tables in rounds_of(after) for t in tables)
        assert all(pinned in r[1] for r in rounds_of(after))
        assert after["version"] > plan["version"]


async def test_my_table_in_every_round_costs_the_same_few_statements(
    client, db, factory, count_statements, monkeypatch
):
    """Every round's tables are read together: the event, my tables, their seats, their people
    and their cases, whatever the number of rounds (the seats make everyone shown a
    table-mate, so no history lookup either)."""
    monkeypatch.setattr(token_versions, "trust_seconds", 60.0)
    admin, event, actors, _, _ = await three_round_event(client, db, factory)
    response = await client.post(
        url(event), headers=admin.headers, json={"seed": 1, "time_limit_s": 5, "rounds": 3}
    )
    assert response.status_code == 201, response.text
    assert (await client.post(url(event, "/publish"), headers=admin.headers)).status_code == 200
    member = actors[4]
    mine_url = f"/api/v1/events/{event['id']}/tables/mine"
    assert (await client.get(mine_url, headers=member.headers)).status_code == 200
    count_statements.clear()
    mine = (await client.get(mine_url, headers=member.headers)).json()
    statements = [
        s for s in count_statements if not s.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK"))
    ]
    assert len(statements) == 5, statements
    assert [r["round"] for r in mine["rounds"]] == [1, 2, 3]
    for table in mine["rounds"]:
        assert str(member.id) in {m["member_id"] for m in table["members"]}
