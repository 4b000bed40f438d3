"""Seating through HTTP: generate, adjust under the hard rules, publish, and my table."""

import uuid

from sqlalchemy import select

from app.auth.revocations import token_versions
from app.models.table import EventTable, PlanStatus, SeatingPlan, TableSeat
from tests.conftest import outbox_events
from tests.events.helpers import create_event, move
from tests.problems import assert_problem
from tests.tables.helpers import attend, seated_event, table_number_of, tables_of


def url(event: dict, rest: str = "") -> str:
    return f"/api/v1/events/{event['id']}/seating{rest}"


async def generate(client, admin, event, **options) -> dict:
    response = await client.post(
        url(event), headers=admin.headers, json={"seed": 1, "time_limit_s": 5, **options}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def publish(client, admin, event) -> dict:
    response = await client.post(url(event, "/publish"), headers=admin.headers)
    assert response.status_code == 200, response.text
    return response.json()


class TestGenerate:
    async def test_a_draft_seats_everyone_under_the_hard_rules(self, client, db, factory):
        admin = await factory.member("admin")
        event, actors = await seated_event(client, db, factory, admin, 14, facilitators=4)
        colleagues = [
            await factory.member(company=name, function="CTO")
            for name in ("Acme", "ACME LLC", "«Acme»")
        ]
        await attend(db, event["id"], *colleagues)
        plan = await generate(client, admin, event)
        assert plan["status"] == "draft" and plan["metrics"]["hard_violations"] == 0
        tables = tables_of(plan)
        assert len(tables) == 5 and sorted(len(t) for t in tables) == [3, 3, 3, 4, 4]
        assert set().union(*tables) == {str(a.id) for a in actors + colleagues}
        ids = {str(c.id) for c in colleagues}
        assert all(len(t & ids) <= 1 for t in tables)  # colleagues at different tables
        facilitators = {str(a.id) for a in actors[:4]}
        assert all(len(t & facilitators) <= 1 for t in tables)  # 4 for 5 tables: never two
        stored = (await db.execute(select(SeatingPlan))).scalars().all()
        assert [(p.status, p.id) for p in stored] == [("draft", uuid.UUID(plan["id"]))]
        # The company stays private: no attendee in the plan carries it.
        assert "Acme" not in str(plan)

    async def test_the_same_seed_gives_the_same_plan_and_a_new_draft_replaces_the_old(
        self, client, db, factory
    ):
        admin = await factory.member("admin")
        event, _ = await seated_event(client, db, factory, admin, 12)
        first = await generate(client, admin, event, seed=5)
        second = await generate(client, admin, event, seed=5)
        assert tables_of(first) == tables_of(second)
        assert (await db.execute(select(SeatingPlan))).scalars().one().id == uuid.UUID(second["id"])

    async def test_infeasible_rules_are_a_409_naming_the_rule_and_people(self, client, db, factory):
        admin = await factory.member("admin")
        event, _ = await seated_event(client, db, factory, admin, 2)
        colleagues = [await factory.member(company="Acme") for _ in range(3)]
        await attend(db, event["id"], *colleagues)
        # 5 attendees, tables of 4: two tables for three colleagues.
        response = await client.post(url(event), headers=admin.headers, json={})
        assert response.status_code == 409
        assert_problem(response)
        body = response.json()
        assert body["type"].endswith("/seating-infeasible") and "'company'" in body["detail"]
        assert all(str(c.id) in body["detail"] for c in colleagues)
        assert (await db.execute(select(SeatingPlan))).scalars().all() == []

    async def test_a_draft_or_empty_event_is_not_seated(self, client, db, factory):
        admin = await factory.member("admin")
        draft = await create_event(client, admin)
        response = await client.post(url(draft), headers=admin.headers, json={})
        assert response.status_code == 409 and "draft" in response.json()["detail"]
        empty = await create_event(client, admin)
        await move(client, admin, empty["id"], "published")
        response = await client.post(url(empty), headers=admin.headers, json={})
        assert response.status_code == 409 and "no confirmed" in response.json()["detail"]

    async def test_bad_options_are_422(self, client, db, factory):
        admin = await factory.member("admin")
        event, _ = await seated_event(client, db, factory, admin, 4)
        for options in (
            {"time_limit_s": 10**9},
            {"weights": {"repeat_pairs": -1}},
            {"seed": -1},
            {"tables": 0},
            {"unknown": 1},
        ):
            response = await client.post(url(event), headers=admin.headers, json=options)
            assert response.status_code == 422, options
            assert_problem(response)


class TestChanges:
    async def test_moves_and_swaps_are_checked_against_every_hard_rule(self, client, db, factory):
        admin = await factory.member("admin")
        event, actors = await seated_event(client, db, factory, admin, 8)
        plan = await generate(client, admin, event)
        a, b = plan["tables"][0]["attendees"][0], plan["tables"][1]["attendees"][0]
        # Moving one person leaves tables of 3 and 5: the size rule.
        response = await client.post(
            url(event, "/moves"),
            headers=admin.headers,
            json={"member_id": a["member_id"], "table": 2},
        )
        assert response.status_code == 409
        assert_problem(response)
        assert "'table_size'" in response.json()["detail"]
        swapped = await client.post(
            url(event, "/swaps"),
            headers=admin.headers,
            json={"member_id": a["member_id"], "other_member_id": b["member_id"]},
        )
        assert swapped.status_code == 200, swapped.text
        body = swapped.json()
        assert table_number_of(body, a["member_id"]) == 2
        assert table_number_of(body, b["member_id"]) == 1
        assert body["version"] == plan["version"] + 1
        db.expire_all()
        stored = (await db.execute(select(SeatingPlan))).scalars().one()
        assert a["member_id"] in stored.tables["2"]

    async def test_a_swap_that_seats_colleagues_together_is_refused(self, client, db, factory):
        admin = await factory.member("admin")
        event, actors = await seated_event(client, db, factory, admin, 6)
        acme = [await factory.member(company="Acme") for _ in range(2)]
        await attend(db, event["id"], *acme)
        plan = await generate(client, admin, event)
        first_table = table_number_of(plan, acme[0].id)
        other = next(
            a["member_id"]
            for t in plan["tables"]
            if t["number"] == first_table
            for a in t["attendees"]
            if a["member_id"] != str(acme[0].id)
        )
        response = await client.post(
            url(event, "/swaps"),
            headers=admin.headers,
            json={"member_id": other, "other_member_id": str(acme[1].id)},
        )
        assert response.status_code == 409 and "'company'" in response.json()["detail"]
        db.expire_all()
        assert (await db.execute(select(SeatingPlan))).scalars().one().version == 1

    async def test_pins_and_keep_apart_adjust_the_plan_and_hold_in_new_ones(
        self, client, db, factory
    ):
        admin = await factory.member("admin")
        event, actors = await seated_event(client, db, factory, admin, 8)
        plan = await generate(client, admin, event)
        target = 2 if table_number_of(plan, actors[0].id) == 1 else 1
        response = await client.put(
            url(event, f"/pins/{actors[0].id}"), headers=admin.headers, json={"table": target}
        )
        assert response.status_code == 200, response.text
        assert response.json()["pins"] == {str(actors[0].id): target}
        current = (await client.get(url(event), headers=admin.headers)).json()
        assert table_number_of(current, actors[0].id) == target
        pinned = [a for t in current["tables"] for a in t["attendees"] if a["pinned"]]
        assert [a["member_id"] for a in pinned] == [str(actors[0].id)]
        mate = next(
            a["member_id"]
            for t in current["tables"]
            if t["number"] == target
            for a in t["attendees"]
            if a["member_id"] != str(actors[0].id)
        )
        response = await client.post(
            url(event, "/keep-apart"),
            headers=admin.headers,
            json={"member_ids": [str(actors[0].id), mate]},
        )
        assert response.status_code == 200, response.text
        current = (await client.get(url(event), headers=admin.headers)).json()
        assert table_number_of(current, mate) != table_number_of(current, actors[0].id)
        for seed in (2, 3, 4):  # every new plan keeps both rules
            fresh = await generate(client, admin, event, seed=seed)
            assert table_number_of(fresh, actors[0].id) == target
            assert table_number_of(fresh, mate) != target
        assert (
            await client.delete(url(event, f"/pins/{actors[0].id}"), headers=admin.headers)
        ).status_code == 204
        assert (
            await client.delete(
                url(event, f"/keep-apart/{mate}/{actors[0].id}"), headers=admin.headers
            )
        ).status_code == 204
        rules = (await client.get(url(event, "/rules"), headers=admin.headers)).json()
        assert rules == {"pins": {}, "keep_apart": []}

    async def test_a_pin_to_a_stranger_or_a_missing_table_is_refused(self, client, db, factory):
        admin, stranger = await factory.member("admin"), await factory.member()
        event, actors = await seated_event(client, db, factory, admin, 8)
        await generate(client, admin, event)
        response = await client.put(
            url(event, f"/pins/{stranger.id}"), headers=admin.headers, json={"table": 1}
        )
        assert response.status_code == 409 and "not a confirmed attendee" in response.text
        response = await client.put(
            url(event, f"/pins/{actors[0].id}"), headers=admin.headers, json={"table": 9}
        )
        assert response.status_code == 409 and "no table 9" in response.text
        rules = (await client.get(url(event, "/rules"), headers=admin.headers)).json()
        assert rules["pins"] == {}


class TestPublish:
    async def test_publishing_creates_tables_seats_and_one_outbox_event(self, client, db, factory):
        admin = await factory.member("admin")
        event, actors = await seated_event(client, db, factory, admin, 8, facilitators=2)
        plan = await generate(client, admin, event)
        published = await publish(client, admin, event)
        assert published["status"] == "published" and published["published_at"]
        tables = (await db.execute(select(EventTable).order_by(EventTable.number))).scalars().all()
        assert [t.number for t in tables] == [1, 2]
        facilitators = {actors[0].id, actors[1].id}
        assert {t.facilitator_id for t in tables} == facilitators
        seats = (await db.execute(select(TableSeat))).scalars().all()
        by_table = {
            t.number: {str(s.member_id) for s in seats if s.table_id == t.id} for t in tables
        }
        assert [by_table[1], by_table[2]] == tables_of(plan)
        events = await outbox_events(db, "seating.published")
        assert len(events) == 1
        assert events[0].data == {
            "id": plan["id"],
            "version": published["version"],
            "event_id": event["id"],
            "tables": 2,
            "seated": 8,
        }
        again = await client.post(url(event, "/publish"), headers=admin.headers)
        assert again.status_code == 200 and len(await outbox_events(db, "seating.published")) == 1

    async def test_reseating_after_publishing_replaces_the_tables_and_the_history(
        self, client, db, factory
    ):
        admin = await factory.member("admin")
        event, actors = await seated_event(client, db, factory, admin, 8)
        plan = await generate(client, admin, event)
        await publish(client, admin, event)
        a = plan["tables"][0]["attendees"][0]["member_id"]
        b = plan["tables"][1]["attendees"][0]["member_id"]
        swapped = await client.post(
            url(event, "/swaps"), headers=admin.headers, json={"member_id": a, "other_member_id": b}
        )
        assert swapped.status_code == 200 and swapped.json()["status"] == "draft"
        db.expire_all()
        # Until the new draft is published, the published tables stand.
        seat = (
            (await db.execute(select(TableSeat).where(TableSeat.member_id == uuid.UUID(a))))
            .scalars()
            .one()
        )
        assert (await db.get(EventTable, seat.table_id)).number == 1
        await publish(client, admin, event)
        db.expire_all()
        seat = (
            (await db.execute(select(TableSeat).where(TableSeat.member_id == uuid.UUID(a))))
            .scalars()
            .one()
        )
        assert (await db.get(EventTable, seat.table_id)).number == 2
        assert len((await db.execute(select(TableSeat))).scalars().all()) == 8
        statuses = sorted(p.status for p in (await db.execute(select(SeatingPlan))).scalars())
        assert statuses == [PlanStatus.published, PlanStatus.superseded]

    async def test_the_next_event_avoids_the_pairs_of_the_last(self, client, db, factory):
        admin = await factory.member("admin")
        first, actors = await seated_event(client, db, factory, admin, 8)
        await generate(client, admin, first)
        await publish(client, admin, first)
        later = await create_event(
            client,
            admin,
            table_size=4,
            starts_at="2030-01-10T10:00:00+00:00",
            ends_at="2030-01-10T14:00:00+00:00",
        )
        await move(client, admin, later["id"], "published")
        await attend(db, later["id"], *actors)
        plan = await generate(
            client, admin, later, weights={"repeat_pairs": 10, "mixed_functions": 0, "seniority": 0}
        )
        # Two tables of four from two tables of four: at best two old pairs at each table.
        assert plan["metrics"]["repeated_pairs"] == 4
        reasons = [r for t in plan["tables"] for r in t["reasons"] if r["kind"] == "repeat_pair"]
        assert len(reasons) == 4 and all(" met " in r["text"] for r in reasons)
        assert all(r["text"].startswith("repeat pair: Attendee ") for r in reasons)

    async def test_publishing_a_stale_plan_is_refused(self, client, db, factory):
        admin = await factory.member("admin")
        event, actors = await seated_event(client, db, factory, admin, 8)
        await generate(client, admin, event)
        late = await factory.member()
        await attend(db, event["id"], late)
        response = await client.post(url(event, "/publish"), headers=admin.headers)
        assert response.status_code == 409 and str(late.id) in response.json()["detail"]
        assert (await db.execute(select(EventTable))).scalars().all() == []


def table_mate_of(published: dict, actors: list, member_id: uuid.UUID):
    """One of ``actors`` seated at the same published table as ``member_id``."""
    number = table_number_of(published, member_id)
    mate_id = next(
        a["member_id"]
        for t in published["tables"]
        if t["number"] == number
        for a in t["attendees"]
        if a["member_id"] != str(member_id)
    )
    return next(a for a in actors if str(a.id) == mate_id)


class TestMyTable:
    async def test_a_table_mate_reads_the_directory_in_one_statement(
        self, client, db, factory, count_statements, monkeypatch
    ):
        """The "table" consent level is decided in the directory's own statement: no second
        query for the page or the profile, whoever is shown."""
        monkeypatch.setattr(token_versions, "trust_seconds", 60.0)
        admin = await factory.member("admin")
        event, actors = await seated_event(client, db, factory, admin, 7)
        shy = await factory.member(company="Secret Bank", company_visibility="table")
        await attend(db, event["id"], shy)
        stranger = await factory.member(company="Other Bank", company_visibility="table")
        await generate(client, admin, event)
        published = await publish(client, admin, event)
        mate = table_mate_of(published, actors, shy.id)
        assert (await client.get("/api/v1/me", headers=mate.headers)).status_code == 200

        def statements() -> list[str]:
            return [
                s
                for s in count_statements
                if not s.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK"))
            ]

        count_statements.clear()
        listed = (await client.get("/api/v1/members?limit=100", headers=mate.headers)).json()
        assert len(statements()) == 1, statements()
        companies = {m["id"]: m["company"] for m in listed["items"]}
        assert companies[str(shy.id)] == "Secret Bank"
        assert companies[str(stranger.id)] is None
        for shown, company in ((shy, "Secret Bank"), (stranger, None)):
            count_statements.clear()
            profile = await client.get(f"/api/v1/members/{shown.id}", headers=mate.headers)
            assert len(statements()) == 1, statements()
            assert profile.json()["company"] == company

    async def test_members_see_their_table_and_table_mates_as_consent_allows(
        self, client, db, factory
    ):
        admin = await factory.member("admin")
        event, actors = await seated_event(client, db, factory, admin, 7, facilitators=2)
        shy = await factory.member(
            company="Secret Bank",
            company_visibility="table",
            phone="+7 900 000 00 00",
            phone_visibility="nobody",
        )
        await attend(db, event["id"], shy)
        outsider = await factory.member()
        await generate(client, admin, event)
        published = await publish(client, admin, event)
        number = table_number_of(published, shy.id)
        mate = table_mate_of(published, actors, shy.id)
        other_id = next(
            a["member_id"]
            for t in published["tables"]
            if t["number"] != number
            for a in t["attendees"]
        )
        other = next(a for a in actors if str(a.id) == other_id)

        mine = (
            await client.get(f"/api/v1/events/{event['id']}/tables/mine", headers=mate.headers)
        ).json()
        assert mine["number"] == number
        shown = {m["member_id"]: m for m in mine["members"]}
        assert str(shy.id) in shown and other_id not in shown
        assert shown[str(shy.id)]["company"] == "Secret Bank"
        assert shown[str(shy.id)]["phone"] is None
        # The table level opens the profile too, to table-mates only.
        profile = (await client.get(f"/api/v1/members/{shy.id}", headers=mate.headers)).json()
        assert profile["company"] == "Secret Bank"
        listed = (await client.get("/api/v1/members?limit=100", headers=mate.headers)).json()
        assert {m["id"]: m["company"] for m in listed["items"]}[str(shy.id)] == "Secret Bank"
        listed = (await client.get("/api/v1/members?limit=100", headers=other.headers)).json()
        assert {m["id"]: m["company"] for m in listed["items"]}[str(shy.id)] is None
        for stranger in (other, outsider):
            profile = (
                await client.get(f"/api/v1/members/{shy.id}", headers=stranger.headers)
            ).json()
            assert profile["company"] is None
        response = await client.get(
            f"/api/v1/events/{event['id']}/tables/mine", headers=outsider.headers
        )
        assert response.status_code == 404
        everything = (
            await client.get(f"/api/v1/events/{event['id']}/tables", headers=admin.headers)
        ).json()
        assert sum(len(t["members"]) for t in everything["items"]) == 8
