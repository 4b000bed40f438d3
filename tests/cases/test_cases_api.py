"""Cases through HTTP: the lifecycle, scheduling at tables, recommendations, ratings,
outcomes, statistics, and visibility everywhere a case can be read."""

import csv
import io
import uuid

from sqlalchemy import select, update

from app.models.case import Case, Recommendation
from tests.conftest import outbox_events
from tests.problems import assert_problem
from tests.tables.helpers import seated_event, table_number_of

CASE = {
    "title": "Analytics under the CFO",
    "context": "Forty analysts report to IT.",
    "question": "Should analytics report to finance?",
    "good_outcome": "A decision and a 90-day plan.",
}


async def bring(client, author, event, **fields) -> dict:
    response = await client.post(
        "/api/v1/cases",
        headers=author.headers,
        json={**CASE, "event_id": event["id"], "submit": True, **fields},
    )
    assert response.status_code == 201, response.text
    return response.json()


async def act(client, actor, case, step, expect=200, **body):
    response = await client.post(
        f"/api/v1/cases/{case['id']}/{step}", headers=actor.headers, json=body or None
    )
    assert response.status_code == expect, response.text
    return response.json()


async def seat(client, admin, event) -> dict:
    assert (
        await client.post(
            f"/api/v1/events/{event['id']}/seating", headers=admin.headers, json={"seed": 1}
        )
    ).status_code == 201
    response = await client.post(
        f"/api/v1/events/{event['id']}/seating/publish", headers=admin.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def mates(plan: dict, member_id) -> list[str]:
    number = table_number_of(plan, member_id)
    table = next(t for t in plan["tables"] if t["number"] == number)
    return [a["member_id"] for a in table["attendees"] if a["member_id"] != str(member_id)]


class TestLifecycle:
    async def test_from_draft_to_outcome(self, client, db, factory):
        admin = await factory.member("admin")
        event, actors = await seated_event(client, db, factory, admin, 8, facilitators=2)
        author = actors[5]
        draft = (
            await client.post(
                "/api/v1/cases", headers=author.headers, json={**CASE, "event_id": event["id"]}
            )
        ).json()
        assert draft["status"] == "draft" and draft["visibility"] == "table"
        edited = await client.patch(
            f"/api/v1/cases/{draft['id']}",
            headers=author.headers,
            json={"question": "Finance or IT?"},
        )
        assert edited.json()["question"] == "Finance or IT?"
        await act(client, author, draft, "submit")
        accepted = await act(client, admin, draft, "accept")
        assert accepted["status"] == "accepted" and accepted["table_id"] is None
        plan = await seat(client, admin, event)
        # The case author is spread like a facilitator, and the case goes to their table.
        assert any(a["has_case"] for t in plan["tables"] for a in t["attendees"])
        db.expire_all()
        stored = await db.get(Case, uuid.UUID(draft["id"]))
        assert stored.status == "scheduled" and stored.table_id is not None
        table_id = stored.table_id
        tables = (
            await client.get(f"/api/v1/events/{event['id']}/tables", headers=admin.headers)
        ).json()["items"]
        assert {t["id"]: [c["id"] for c in t["cases"]] for t in tables}[str(table_id)] == [
            draft["id"]
        ]
        assert sum(len(t["cases"]) for t in tables) == 1
        mate = next(a for a in actors if str(a.id) in mates(plan, author.id))
        advice = await client.post(
            f"/api/v1/cases/{draft['id']}/recommendations",
            headers=mate.headers,
            json={
                "advice": "Move the analysts, keep the platform.",
                "experience": "Did it at a bank in 2023; it worked.",
            },
        )
        assert advice.status_code == 201, advice.text
        missing = await client.post(
            f"/api/v1/cases/{draft['id']}/recommendations",
            headers=mate.headers,
            json={"advice": "Just do it."},
        )
        assert missing.status_code == 422  # the experience is required
        facilitator = next(
            a for a in actors[:2] if str(a.id) in mates(plan, author.id) or a.id == author.id
        )
        await act(client, facilitator, draft, "discussed")
        rated = await client.put(
            f"/api/v1/cases/{draft['id']}/recommendations/{advice.json()['id']}/rating",
            headers=author.headers,
            json={"usefulness": 5},
        )
        assert rated.status_code == 200 and rated.json()["usefulness"] == 5
        done = await act(
            client, author, draft, "outcome", action="Moved them.", result="Reports twice as fast."
        )
        assert done["status"] == "outcome_reported" and done["outcome_reported_at"]
        db.expire_all()
        row = (await db.execute(select(Recommendation))).scalars().one()
        assert (row.usefulness, row.author_id) == (5, mate.id)
        statuses = [e.data["status"] for e in await outbox_events(db, "case.status_changed")]
        assert statuses == ["submitted", "accepted", "scheduled", "discussed", "outcome_reported"]
        assert all("analyst" not in str(e.data).lower() for e in await outbox_events(db))
        stats = (await client.get("/api/v1/cases/stats", headers=admin.headers)).json()
        assert (stats["cases"], stats["with_outcome"], stats["outcome_share"]) == (1, 1, 1.0)
        assert stats["mean_usefulness"] == 5.0
        assert [g["key"] for g in stats["by_table"]] == [str(table_id)]
        assert stats["by_facilitator"][0]["key"] == str(facilitator.id)
        history = (await client.get("/api/v1/me/recommendations", headers=mate.headers)).json()
        assert [r["id"] for r in history["items"]] == [advice.json()["id"]]
        mine = (await client.get("/api/v1/cases?mine=true", headers=author.headers)).json()
        assert [c["id"] for c in mine["items"]] == [draft["id"]]

    async def test_illegal_moves_and_wrong_people_are_refused(self, client, db, factory):
        admin = await factory.member("admin")
        event, actors = await seated_event(client, db, factory, admin, 8)
        author, other = actors[0], actors[1]
        case = await bring(client, author, event, visibility="members")
        response = await client.post(
            f"/api/v1/cases/{case['id']}/outcome",
            headers=author.headers,
            json={"action": "x", "result": "y"},
        )
        assert response.status_code == 409
        assert_problem(response)
        assert (
            await client.post(f"/api/v1/cases/{case['id']}/accept", headers=other.headers)
        ).status_code == 403
        assert (
            await client.patch(
                f"/api/v1/cases/{case['id']}", headers=other.headers, json={"title": "Mine now"}
            )
        ).status_code == 403
        assert (
            await client.post(f"/api/v1/cases/{case['id']}/withdraw", headers=other.headers)
        ).status_code == 403
        declined = await act(client, admin, case, "decline", reason="A vendor pitch.")
        assert declined["status"] == "declined" and declined["decline_reason"] == "A vendor pitch."
        again = await client.post(f"/api/v1/cases/{case['id']}/accept", headers=admin.headers)
        assert again.status_code == 409
        db.expire_all()
        assert (await db.get(Case, uuid.UUID(case["id"]))).status == "declined"

    async def test_only_the_table_advises(self, client, db, factory):
        admin = await factory.member("admin")
        event, actors = await seated_event(client, db, factory, admin, 8)
        author = actors[0]
        case = await bring(client, author, event, visibility="members")
        await act(client, admin, case, "accept")
        plan = await seat(client, admin, event)
        stranger = next(a for a in actors[1:] if str(a.id) not in mates(plan, author.id))
        response = await client.post(
            f"/api/v1/cases/{case['id']}/recommendations",
            headers=stranger.headers,
            json={"advice": "a", "experience": "b"},
        )
        assert response.status_code == 403
        own = await client.post(
            f"/api/v1/cases/{case['id']}/recommendations",
            headers=author.headers,
            json={"advice": "a", "experience": "b"},
        )
        assert own.status_code == 403
        assert (await db.execute(select(Recommendation))).scalars().all() == []

    async def test_blank_or_nul_text_is_invalid_input(self, client, db, factory):
        """Stripped text that ends up empty, or holds NUL (PostgreSQL refuses it in text), is
        a validation error, as the contract's pattern says; the case is not written."""
        admin = await factory.member("admin")
        event, actors = await seated_event(client, db, factory, admin, 8)
        for field, value in (("title", " \u000b "), ("question", "a\u0000b"), ("context", "\t\n")):
            response = await client.post(
                "/api/v1/cases",
                headers=actors[0].headers,
                json={**CASE, "event_id": event["id"], field: value},
            )
            assert response.status_code == 422, (field, response.text)
            assert response.json()["errors"][0]["loc"] == ["body", field]
        assert (await db.execute(select(Case))).scalars().all() == []


CANARY = "CANARY-7f3a-secret-merger"


class TestVisibility:
    async def test_a_table_only_case_stays_at_its_table(self, client, db, factory):
        admin = await factory.member("admin")
        event, actors = await seated_event(client, db, factory, admin, 8, facilitators=2)
        author = actors[4]
        case = await bring(
            client, author, event, title=f"Merger {CANARY}", context=f"Context {CANARY}"
        )
        await act(client, admin, case, "accept")
        plan = await seat(client, admin, event)
        mate = next(a for a in actors if str(a.id) in mates(plan, author.id))
        outsider = next(
            a for a in actors if str(a.id) not in mates(plan, author.id) and a.id != author.id
        )
        outside_facilitator = next((a for a in actors[:2] if a.id == outsider.id), None)
        advice = await client.post(
            f"/api/v1/cases/{case['id']}/recommendations",
            headers=mate.headers,
            json={"advice": f"Advice {CANARY}", "experience": "Mine."},
        )
        assert advice.status_code == 201

        async def every_exit(actor) -> str:
            seen = []
            for path in (
                "/api/v1/cases",
                f"/api/v1/cases?q={CANARY[:12]}",
                f"/api/v1/cases?event_id={event['id']}",
                "/api/v1/cases/export",
                f"/api/v1/cases/{case['id']}",
                f"/api/v1/cases/{case['id']}/recommendations",
                f"/api/v1/events/{event['id']}/tables/mine",
            ):
                response = await client.get(path, headers=actor.headers)
                # An error names the path asked for; the body beyond it must reveal nothing.
                seen.append(
                    response.text.replace(str(response.request.url.path), "").replace(
                        CANARY[:12], ""
                    )
                    if response.status_code == 404
                    else response.text
                )
            return "\n".join(seen)

        assert CANARY in await every_exit(mate)
        assert CANARY in await every_exit(admin)
        leaked = await every_exit(outsider)
        assert CANARY not in leaked and case["id"] not in leaked
        assert (
            await client.get(f"/api/v1/cases/{case['id']}", headers=outsider.headers)
        ).status_code == 404
        if outside_facilitator is not None:  # a facilitator elsewhere does not see it either
            assert CANARY not in await every_exit(outside_facilitator)
        assert CANARY not in str([e.data for e in await outbox_events(db)])

    async def test_facilitator_only_cases_skip_the_table_members(self, client, db, factory):
        admin = await factory.member("admin")
        event, actors = await seated_event(client, db, factory, admin, 8, facilitators=2)
        author = actors[4]
        case = await bring(client, author, event, visibility="facilitators", title=CANARY)
        await act(client, admin, case, "accept")
        plan = await seat(client, admin, event)
        plain_mate = next(a for a in actors[2:] if str(a.id) in mates(plan, author.id))
        for facilitator in actors[:2]:
            response = await client.get(f"/api/v1/cases/{case['id']}", headers=facilitator.headers)
            assert response.status_code == 200
        assert (
            await client.get(f"/api/v1/cases/{case['id']}", headers=plain_mate.headers)
        ).status_code == 404
        table = (
            await client.get(
                f"/api/v1/events/{event['id']}/tables/mine", headers=plain_mate.headers
            )
        ).json()
        assert table["cases"] == []
        export = (await client.get("/api/v1/cases/export", headers=plain_mate.headers)).text
        assert list(csv.reader(io.StringIO(export)))[1:] == []

    async def test_drafts_are_the_authors_own(self, client, db, factory):
        admin = await factory.member("admin")
        event, actors = await seated_event(client, db, factory, admin, 4)
        response = await client.post(
            "/api/v1/cases",
            headers=actors[0].headers,
            json={**CASE, "event_id": event["id"], "visibility": "members"},
        )
        draft = response.json()
        assert (
            await client.get(f"/api/v1/cases/{draft['id']}", headers=actors[1].headers)
        ).status_code == 404
        listed = (await client.get("/api/v1/cases", headers=actors[1].headers)).json()
        assert listed["items"] == []
        applicant = await factory.member("applicant")
        assert (await client.get("/api/v1/cases", headers=applicant.headers)).status_code == 403

    async def test_pages_follow_the_cursor(self, client, db, factory):
        admin = await factory.member("admin")
        event, actors = await seated_event(client, db, factory, admin, 4)
        made = [await bring(client, actors[0], event, title=f"Case {i}") for i in range(5)]
        seen, cursor = [], None
        while True:
            query = "/api/v1/cases?limit=2" + (f"&cursor={cursor}" if cursor else "")
            page = (await client.get(query, headers=actors[0].headers)).json()
            seen += [c["id"] for c in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(c["id"] for c in made) and len(seen) == 5
        bad = await client.get("/api/v1/cases?cursor=garbage", headers=actors[0].headers)
        assert bad.status_code == 422
        assert_problem(bad)


class TestExport:
    async def test_cells_starting_like_a_formula_are_inert(self, client, db, factory):
        admin = await factory.member("admin")
        event, actors = await seated_event(client, db, factory, admin, 4)
        link = '=HYPERLINK("https://evil.example/","open")'
        first = await bring(client, actors[0], event, title=link, question="-2+3")
        second = await bring(client, actors[0], event, title="+1+cmd|' /C calc'!A0")
        third = await bring(client, actors[0], event, title="@SUM(A1:A9)")
        # A body's strings lose a leading tab or CR, so those come by the database.
        await db.execute(
            update(Case).where(Case.id == uuid.UUID(second["id"])).values(question="\t=1+2")
        )
        await db.execute(
            update(Case).where(Case.id == uuid.UUID(third["id"])).values(question="\r=1+2")
        )
        response = await client.get("/api/v1/cases/export", headers=admin.headers)
        assert response.status_code == 200
        rows = {r["id"]: r for r in csv.DictReader(io.StringIO(response.text))}
        assert (rows[first["id"]]["title"], rows[first["id"]]["question"]) == (
            "'" + link,
            "'-2+3",
        )
        assert rows[second["id"]]["title"] == "'+1+cmd|' /C calc'!A0"
        assert rows[second["id"]]["question"] == "'\t=1+2"
        assert rows[third["id"]]["title"] == "'@SUM(A1:A9)"
        assert rows[third["id"]]["question"] == "'\r=1+2"
        assert rows[first["id"]]["status"] == "submitted"  # a plain cell stays as it is


class TestPersonalData:
    async def test_export_carries_my_cases_and_erasure_blanks_them(self, client, db, factory):
        admin = await factory.member("admin")
        event, actors = await seated_event(client, db, factory, admin, 8)
        author = actors[0]
        case = await bring(client, author, event, visibility="members", title=CANARY)
        await act(client, admin, case, "accept")
        plan = await seat(client, admin, event)
        mate = next(a for a in actors if str(a.id) in mates(plan, author.id))
        advice = await client.post(
            f"/api/v1/cases/{case['id']}/recommendations",
            headers=mate.headers,
            json={"advice": CANARY, "experience": CANARY},
        )
        assert advice.status_code == 201
        export = (await client.get("/api/v1/me/export", headers=author.headers)).json()
        assert [c["title"] for c in export["cases"]] == [CANARY]
        mate_export = (await client.get("/api/v1/me/export", headers=mate.headers)).json()
        assert [r["advice"] for r in mate_export["recommendations"]] == [CANARY]
        for person in (author, mate):
            assert (await client.delete("/api/v1/me", headers=person.headers)).status_code == 204
        db.expire_all()
        stored = await db.get(Case, uuid.UUID(case["id"]))
        assert (stored.title, stored.status, stored.table_id) == ("[erased]", "withdrawn", None)
        row = (await db.execute(select(Recommendation))).scalars().one()
        assert (row.advice, row.experience) == ("[erased]", "[erased]")
        readable = (await client.get(f"/api/v1/cases/{case['id']}", headers=admin.headers)).text
        assert CANARY not in readable


class TestFacilitatorsTriage:
    async def test_a_facilitator_triages_the_cases_of_the_events_they_facilitate(
        self, client, db, factory
    ):
        admin = await factory.member("admin")
        event, actors = await seated_event(client, db, factory, admin, 8, facilitators=1)
        facilitator, author, other_author = actors[0], actors[4], actors[5]
        elsewhere = await factory.member("member", "facilitator")  # not at this event
        first = await bring(client, author, event, title="Before the seating")
        listed = await client.get(
            "/api/v1/cases", headers=facilitator.headers, params={"event_id": event["id"]}
        )
        assert [c["id"] for c in listed.json()["items"]] == [first["id"]]
        assert (
            await client.get(f"/api/v1/cases/{first['id']}", headers=elsewhere.headers)
        ).status_code == 404
        act_elsewhere = await client.post(
            f"/api/v1/cases/{first['id']}/accept", headers=elsewhere.headers
        )
        assert act_elsewhere.status_code == 404
        accepted = await act(client, facilitator, first, "accept")
        assert accepted["status"] == "accepted"

        await seat(client, admin, event)
        second = await bring(client, other_author, event, title="After the seating")
        scheduled = await act(client, facilitator, second, "accept")
        assert scheduled["status"] == "scheduled" and scheduled["table_id"]
        third = await bring(client, other_author, event, title="Out of format")
        declined = await act(client, facilitator, third, "decline", reason="A vendor pitch.")
        assert declined["status"] == "declined"
        db.expire_all()
        rows = {c.id: c for c in (await db.execute(select(Case))).scalars()}
        assert rows[uuid.UUID(first["id"])].decided_by == facilitator.id
        assert rows[uuid.UUID(third["id"])].decline_reason == "A vendor pitch."
        # Plain members of the event still see no table-only case before it is at their table.
        plain = actors[7]
        assert (
            await client.get(f"/api/v1/cases/{third['id']}", headers=plain.headers)
        ).status_code == 404
