"""Surveys through HTTP: building and editing, opening and closing, answering once, the
express survey, results and breakdowns, exports, invitations and reminders."""

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.models.audit import AuditEntry
from app.models.survey import Survey, SurveyRespondent, SurveyResponse
from app.notifications.channel import render
from app.notifications.notices import notice_for
from app.surveys import service
from tests.conftest import outbox_events
from tests.events.helpers import create_event
from tests.problems import assert_problem
from tests.smtp import text_of
from tests.surveys.helpers import (
    RATING_SURVEY,
    answer,
    create_survey,
    event_with,
    open_survey,
    open_survey_for,
    seat,
)


async def survey_row(db, survey_id) -> Survey:
    db.expire_all()
    return await db.get(Survey, uuid.UUID(str(survey_id)))


async def responses_of(db, survey_id) -> list[SurveyResponse]:
    db.expire_all()
    return list(
        (
            await db.execute(
                select(SurveyResponse).where(SurveyResponse.survey_id == uuid.UUID(str(survey_id)))
            )
        ).scalars()
    )


async def recipients(db, event_type: str) -> list[uuid.UUID]:
    [row] = await outbox_events(db, event_type)
    notice = notice_for(row.type, row.data)
    assert notice is not None
    return await notice.recipients(db, row)


class TestCreate:
    async def test_admin_creates_a_draft_with_questions_as_data(self, client, factory, db):
        admin = await factory.member("admin")
        event = await create_event(client, admin)
        created = await create_survey(
            client, admin, event_id=event["id"], anonymous=False, allow_edit=True, min_group_size=3
        )
        assert (
            created["status"],
            created["audience"],
            created["anonymous"],
            created["editable"],
        ) == ("draft", "checked_in", False, True)
        assert [q["key"] for q in created["questions"]] == [q["key"] for q in RATING_SURVEY]
        assert created["questions"][2]["section"] == "Format"
        assert created["questions"][0]["options"] == []
        row = await survey_row(db, created["id"])
        assert row.event_id == uuid.UUID(event["id"]) and row.min_group_size == 3
        assert row.questions[3]["max_choices"] == 2
        entry = (
            await db.execute(select(AuditEntry).where(AuditEntry.target_id == row.id))
        ).scalar_one()
        assert entry.action == "survey.created"
        assert await outbox_events(db, "survey.opened") == []  # a draft invites nobody

    async def test_community_survey_asks_all_members(self, client, factory):
        admin = await factory.member("admin")
        created = await create_survey(client, admin)
        assert (created["event_id"], created["audience"]) == (None, "members")

    @pytest.mark.parametrize(
        "change",
        [
            {"questions": [RATING_SURVEY[0], RATING_SURVEY[0]]},
            {"questions": [{"key": "x", "type": "single_choice", "text": "?", "options": ["a"]}]},
            {"questions": [{"key": "x", "type": "rating", "text": "?", "options": ["a", "b"]}]},
            {"questions": [{"key": "X y", "type": "rating", "text": "?"}]},
            {"questions": [{"key": "x", "type": "short_text", "text": "?", "max_length": 501}]},
            {"questions": []},
            {"anonymous": True, "allow_edit": True},
            {"headline_question": "change"},
            {"audience": "checked_in"},
            {"opens_at": "2027-01-02T00:00:00Z", "closes_at": "2027-01-01T00:00:00Z"},
            {"closes_at": "2027-01-01T00:00:00"},
            {"min_group_size": 1},
            {"role": "admin"},
        ],
    )
    async def test_bad_surveys_are_422(self, client, factory, db, change):
        admin = await factory.member("admin")
        response = await client.post(
            "/api/v1/surveys",
            headers=admin.headers,
            json={"title": "Bad", "questions": RATING_SURVEY, **change},
        )
        assert response.status_code == 422, response.text
        assert (await db.execute(select(Survey))).scalars().all() == []

    async def test_unknown_event_is_404_and_members_are_403(self, client, factory, db):
        admin, member = await factory.member("admin"), await factory.member("member")
        response = await client.post(
            "/api/v1/surveys",
            headers=admin.headers,
            json={"title": "x", "event_id": str(uuid.uuid4()), "questions": RATING_SURVEY},
        )
        assert response.status_code == 404
        refused = await client.post(
            "/api/v1/surveys",
            headers=member.headers,
            json={"title": "x", "questions": RATING_SURVEY},
        )
        assert refused.status_code == 403
        assert (await db.execute(select(Survey))).scalars().all() == []


class TestExpress:
    async def test_one_call_creates_and_opens_the_express_survey(self, client, factory, db):
        admin = await factory.member("admin")
        event, people = await event_with(client, db, factory, admin, 3)
        response = await client.post(
            f"/api/v1/events/{event['id']}/surveys/express",
            headers=admin.headers,
            json={"language": "en"},
        )
        assert response.status_code == 201, response.text
        survey = response.json()
        assert survey["status"] == "open" and survey["anonymous"] is True
        assert [(q["key"], q["type"], q["required"]) for q in survey["questions"]] == [
            ("liked", "rating", True),
            ("nps", "nps", True),
            ("most_useful", "long_text", False),
            ("change", "long_text", False),
            ("next_topics", "long_text", False),
        ]
        assert survey["questions"][0]["text"] == "How did you like the event?"
        assert survey["headline_question"] == "liked"
        ends = datetime.fromisoformat(event["ends_at"])
        assert datetime.fromisoformat(survey["closes_at"]) == ends + timedelta(days=14)
        assert datetime.fromisoformat(survey["remind_at"]) == ends + timedelta(days=3)
        [opened] = await outbox_events(db, "survey.opened")
        assert opened.data == {
            "id": survey["id"],
            "version": survey["version"],
            "event_id": event["id"],
            "anonymous": True,
            "status": "open",
        }
        # The invitation goes to the checked-in attendees.
        assert sorted(await recipients(db, "survey.opened")) == sorted(p.id for p in people)

    async def test_russian_by_default_and_kept_as_draft_on_request(self, client, factory, db):
        admin = await factory.member("admin")
        event = await create_event(client, admin)
        response = await client.post(
            f"/api/v1/events/{event['id']}/surveys/express",
            headers=admin.headers,
            json={"open_now": False},
        )
        survey = response.json()
        assert survey["status"] == "draft" and survey["title"].startswith("Экспресс-опрос")
        assert survey["questions"][0]["text"] == "Как вам встреча?"
        assert await outbox_events(db, "survey.opened") == []

    async def test_unknown_event_is_404(self, client, factory):
        admin = await factory.member("admin")
        response = await client.post(
            f"/api/v1/events/{uuid.uuid4()}/surveys/express", headers=admin.headers, json={}
        )
        assert response.status_code == 404


class TestUpdate:
    async def test_edit_with_if_match_until_the_first_answer(self, client, factory, db):
        admin = await factory.member("admin")
        event, people = await event_with(client, db, factory, admin, 1)
        survey = await create_survey(client, admin, event_id=event["id"])
        url = f"/api/v1/surveys/{survey['id']}"
        etag = (await client.get(url, headers=admin.headers)).headers["ETag"]
        changed = await client.patch(
            url,
            headers={**admin.headers, "If-Match": etag},
            json={"title": "Renamed", "questions": RATING_SURVEY[:2]},
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["version"] == 2 and len(changed.json()["questions"]) == 2
        stale = await client.patch(
            url, headers={**admin.headers, "If-Match": etag}, json={"title": "Again"}
        )
        assert stale.status_code == 412
        assert (await survey_row(db, survey["id"])).title == "Renamed"

        await open_survey(client, admin, survey["id"])
        await answer(client, people[0], survey["id"], {"liked": 4})
        locked = await client.patch(url, headers=admin.headers, json={"title": "Too late"})
        assert locked.status_code == 409
        assert locked.json()["type"] == "/problems/survey-locked"
        read = await client.get(url, headers=admin.headers)
        assert read.json()["editable"] is False and read.json()["title"] == "Renamed"
        listed = await client.get("/api/v1/surveys", headers=admin.headers)
        assert [(s["id"], s["editable"]) for s in listed.json()["items"]] == [(survey["id"], False)]

    @pytest.mark.parametrize(
        "change",
        [
            {"title": None},
            {"questions": None},
            {"anonymous": True, "allow_edit": True},
            {"headline_question": "nps"},
            {"audience": "bogus"},
        ],
    )
    async def test_bad_changes_are_422(self, client, factory, db, change):
        admin = await factory.member("admin")
        survey = await create_survey(client, admin, anonymous=False)
        response = await client.patch(
            f"/api/v1/surveys/{survey['id']}", headers=admin.headers, json=change
        )
        assert response.status_code == 422, response.text
        assert (await survey_row(db, survey["id"])).version == 1


class TestOpenAndClose:
    async def test_scheduled_opens_and_closes_on_time(self, client, factory, db, settings):
        admin = await factory.member("admin")
        event, people = await event_with(client, db, factory, admin, 2)
        now = datetime.now(UTC)
        survey = await create_survey(
            client,
            admin,
            event_id=event["id"],
            opens_at=(now + timedelta(hours=1)).isoformat(),
            closes_at=(now + timedelta(hours=3)).isoformat(),
        )
        scheduled = await open_survey(client, admin, survey["id"])
        assert scheduled["status"] == "scheduled"
        # Until it opens the survey is the admins' alone.
        await answer(client, people[0], survey["id"], {"liked": 5}, status=404)
        assert await outbox_events(db, "survey.opened") == []

        assert await service.run_schedule(db, settings, now + timedelta(hours=1, minutes=1))
        assert (await survey_row(db, survey["id"])).status == "open"
        assert len(await outbox_events(db, "survey.opened")) == 1
        await answer(client, people[0], survey["id"], {"liked": 5})

        await service.run_schedule(db, settings, now + timedelta(hours=3, minutes=1))
        row = await survey_row(db, survey["id"])
        assert row.status == "closed" and row.closed_at is not None
        [closed] = await outbox_events(db, "survey.closed")
        assert closed.data["responses"] == 1 and closed.data["status"] == "closed"
        late = await answer(client, people[1], survey["id"], {"liked": 5}, status=409)
        assert late["type"] == "/problems/survey-not-open"
        # Nothing more to do: the scheduler is idempotent.
        assert await service.run_schedule(db, settings, now + timedelta(hours=4)) == 0

    async def test_close_is_final(self, client, factory, db):
        admin = await factory.member("admin")
        survey = await create_survey(client, admin)
        await open_survey(client, admin, survey["id"])
        url = f"/api/v1/surveys/{survey['id']}"
        closed = await client.post(f"{url}/close", headers=admin.headers)
        assert closed.status_code == 200 and closed.json()["status"] == "closed"
        for action in ("close", "open", "remind"):
            again = await client.post(f"{url}/{action}", headers=admin.headers)
            assert again.status_code == 409, action
        assert len(await outbox_events(db, "survey.closed")) == 1

    async def test_members_do_not_see_drafts(self, client, factory):
        admin, member = await factory.member("admin"), await factory.member("member")
        draft = await create_survey(client, admin)
        opened = await open_survey(client, admin, (await create_survey(client, admin))["id"])
        assert (
            await client.get(f"/api/v1/surveys/{draft['id']}", headers=member.headers)
        ).status_code == 404
        listed = await client.get("/api/v1/surveys", headers=member.headers)
        assert [s["id"] for s in listed.json()["items"]] == [opened["id"]]
        everything = await client.get("/api/v1/surveys?limit=1", headers=admin.headers)
        page = everything.json()
        assert len(page["items"]) == 1 and page["next_cursor"]
        rest = await client.get(
            f"/api/v1/surveys?limit=1&cursor={page['next_cursor']}", headers=admin.headers
        )
        assert {page["items"][0]["id"], rest.json()["items"][0]["id"]} == {
            draft["id"],
            opened["id"],
        }
        bad = await client.get("/api/v1/surveys?cursor=nonsense", headers=admin.headers)
        assert bad.status_code == 422


class TestRespond:
    async def test_named_answer_once_then_edit(self, client, factory, db):
        admin = await factory.member("admin")
        event, people = await event_with(client, db, factory, admin, 1)
        await seat(db, event["id"], {3: people})
        survey = await open_survey_for(client, admin, event, anonymous=False, allow_edit=True)
        given = {
            "liked": 4,
            "nps": 9,
            "topics": ["Money", "AI"],
            "again": True,
            "change": "  More time for cases  ",
            "format": "tables",
        }
        answered = await answer(client, people[0], survey["id"], given)
        assert answered["answered"] is True and answered["editable"] is True
        assert answered["answers"]["topics"] == ["AI", "Money"]  # in the question's order
        assert answered["answers"]["change"] == "More time for cases"
        [row] = await responses_of(db, survey["id"])
        assert (row.member_id, row.table_number, row.submitted_on) == (
            people[0].id,
            3,
            datetime.now(UTC).date(),
        )
        assert row.answers["nps"] == 9

        second = await answer(client, people[0], survey["id"], {"liked": 1}, status=409)
        assert second["type"] == "/problems/survey-already-answered"
        assert len(await responses_of(db, survey["id"])) == 1
        [created] = await outbox_events(db, "survey.response_created")
        assert created.data == {
            "id": survey["id"],
            "version": survey["version"],
            "event_id": event["id"],
            "anonymous": False,
            "response_id": str(row.id),
            "member_id": str(people[0].id),
        }

        url = f"/api/v1/surveys/{survey['id']}/my-response"
        edited = await client.put(url, headers=people[0].headers, json={"answers": {"liked": 2}})
        assert edited.status_code == 200 and edited.json()["answers"] == {"liked": 2}
        [row] = await responses_of(db, survey["id"])
        assert row.answers == {"liked": 2} and row.updated_on is not None
        mine = await client.get(url, headers=people[0].headers)
        assert mine.json()["answers"] == {"liked": 2} and mine.json()["submitted_on"]

    async def test_no_edit_unless_allowed(self, client, factory, db):
        admin = await factory.member("admin")
        event, people = await event_with(client, db, factory, admin, 1)
        survey = await open_survey_for(client, admin, event, anonymous=False)
        await answer(client, people[0], survey["id"], {"liked": 4})
        refused = await client.put(
            f"/api/v1/surveys/{survey['id']}/my-response",
            headers=people[0].headers,
            json={"answers": {"liked": 1}},
        )
        assert refused.status_code == 409
        assert (await responses_of(db, survey["id"]))[0].answers == {"liked": 4}

    async def test_only_the_audience_answers(self, client, factory, db):
        admin = await factory.member("admin")
        event, came = await event_with(client, db, factory, admin, 1)
        _, registered = await event_with(client, db, factory, admin, 1, status="confirmed")
        stranger = await factory.member("member")
        survey = await open_survey_for(client, admin, event)
        await answer(client, came[0], survey["id"], {"liked": 5})
        for outsider in (registered[0], stranger):
            refused = await answer(client, outsider, survey["id"], {"liked": 5}, status=403)
            assert refused["status"] == 403
        assert len(await responses_of(db, survey["id"])) == 1

    async def test_confirmed_audience_includes_no_shows(self, client, factory, db):
        admin = await factory.member("admin")
        event, confirmed = await event_with(client, db, factory, admin, 1, status="confirmed")
        survey = await open_survey_for(client, admin, event, audience="confirmed")
        await answer(client, confirmed[0], survey["id"], {"liked": 3})

    @pytest.mark.parametrize(
        "answers",
        [
            {"liked": 6},
            {"liked": 0},
            {"liked": True},
            {"liked": "5"},
            {"nps": 4},
            {"liked": 4, "nps": 11},
            {"liked": 4, "format": "other"},
            {"liked": 4, "topics": ["AI", "People", "Money"]},
            {"liked": 4, "topics": ["AI", "AI"]},
            {"liked": 4, "topics": "AI"},
            {"liked": 4, "again": "yes"},
            {"liked": 4, "change": "x" * 301},
            {"liked": 4, "unknown": 1},
            {"liked": 4, "change": "a\u0000b"},
        ],
    )
    async def test_bad_answers_are_422_and_store_nothing(self, client, factory, db, answers):
        admin = await factory.member("admin")
        event, people = await event_with(client, db, factory, admin, 1)
        survey = await open_survey_for(client, admin, event)
        response = await client.post(
            f"/api/v1/surveys/{survey['id']}/responses",
            headers=people[0].headers,
            json={"answers": answers},
        )
        assert response.status_code == 422, response.text
        assert_problem(response)
        assert await responses_of(db, survey["id"]) == []
        assert (await db.execute(select(SurveyRespondent))).scalars().all() == []

    async def test_draft_is_not_found_to_members(self, client, factory, db):
        admin = await factory.member("admin")
        event, people = await event_with(client, db, factory, admin, 1)
        survey = await create_survey(client, admin, event_id=event["id"])
        await answer(client, people[0], survey["id"], {"liked": 5}, status=404)


class TestResults:
    async def test_headline_distribution_nps_and_texts(self, client, factory, db):
        admin = await factory.member("admin")
        event, people = await event_with(client, db, factory, admin, 8)
        survey = await open_survey_for(client, admin, event, satisfied_threshold=4)
        ratings = [5, 5, 4, 4, 4, 3, 2]
        scores = [10, 9, 9, 8, 7, 6, 0]
        for person, rating, score in zip(people, ratings, scores, strict=False):
            await answer(
                client,
                person,
                survey["id"],
                {
                    "liked": rating,
                    "nps": score,
                    "format": "tables",
                    "again": rating > 3,
                    "topics": ["AI"],
                    "change": f"idea {rating}-{score}",
                },
            )
        response = await client.get(
            f"/api/v1/surveys/{survey['id']}/results", headers=admin.headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["responses"], body["audience"]) == (7, 8)
        assert body["response_rate"] == pytest.approx(7 / 8)
        assert body["satisfied_share"] == pytest.approx(5 / 7)  # the "92%" figure
        assert body["headline_mean"] == pytest.approx(27 / 7, abs=1e-3)
        assert body["responses_by_day"] == {datetime.now(UTC).date().isoformat(): 7}
        liked, nps, fmt, topics, again, change = body["questions"]
        assert liked["distribution"] == {"1": 0, "2": 1, "3": 1, "4": 3, "5": 2}
        assert liked["median"] == 4
        assert nps["nps"] == pytest.approx((3 - 2) * 100 / 7, abs=0.1)
        assert (nps["promoters"], nps["passives"], nps["detractors"]) == pytest.approx(
            (3 / 7, 2 / 7, 2 / 7)
        )
        assert body["nps"] == nps["nps"]
        assert fmt["distribution"] == {"tables": 7, "plenary": 0}
        assert topics["shares"] == {"AI": 1.0, "People": 0.0, "Money": 0.0}
        assert again["distribution"] == {"yes": 5, "no": 2}
        assert sorted(change["texts"]) == sorted(
            f"idea {r}-{s}" for r, s in zip(ratings, scores, strict=False)
        )

    async def test_breakdowns_hide_small_tables_and_what_they_would_expose(
        self, client, factory, db
    ):
        admin = await factory.member("admin")
        event, people = await event_with(client, db, factory, admin, 14)
        leaders = [await factory.member("member", "facilitator") for _ in range(3)]
        # Table 1: 6 answers, table 2: 5, table 3: 2, and 1 person without a table.
        await seat(
            db,
            event["id"],
            {1: people[:6], 2: people[6:11], 3: people[11:13]},
            facilitators={1: leaders[0], 2: leaders[1], 3: leaders[2]},
        )
        survey = await open_survey_for(client, admin, event)
        for i, person in enumerate(people):
            await answer(client, person, survey["id"], {"liked": 1 + i % 5})
        # Anonymous: while open, every breakdown waits (a live one could be differenced).
        live = (
            await client.get(f"/api/v1/surveys/{survey['id']}/results", headers=admin.headers)
        ).json()
        assert live["by_table"]["groups"] == [] and live["by_facilitator"]["groups"] == []
        assert live["responses"] == 14  # the totals stay live
        waiting = await client.get(
            f"/api/v1/surveys/{survey['id']}/results/my-table", headers=leaders[0].headers
        )
        assert [t["shown"] for t in waiting.json()] == [False]
        closed = await client.post(f"/api/v1/surveys/{survey['id']}/close", headers=admin.headers)
        assert closed.status_code == 200
        body = (
            await client.get(f"/api/v1/surveys/{survey['id']}/results", headers=admin.headers)
        ).json()
        by_table = body["by_table"]
        # Table 3 (2 answers) is below k; with it and the unseated person, 3 answers would be
        # left over, so table 2 (the smallest shown) is withheld as well.
        assert [g["table_number"] for g in by_table["groups"]] == [1]
        assert by_table["withheld"] == 2
        [one] = by_table["groups"]
        assert (one["responses"], one["facilitator_id"]) == (6, str(leaders[0].id))
        assert one["questions"][0]["answered"] == 6
        assert all(q["type"] != "long_text" for q in one["questions"])
        assert [g["facilitator_id"] for g in body["by_facilitator"]["groups"]] == [
            str(leaders[0].id)
        ]

        mine = await client.get(
            f"/api/v1/surveys/{survey['id']}/results/my-table", headers=leaders[0].headers
        )
        assert mine.status_code == 200
        [table] = mine.json()
        assert (table["table_number"], table["shown"], table["responses"]) == (1, True, 6)
        hidden = (
            await client.get(
                f"/api/v1/surveys/{survey['id']}/results/my-table", headers=leaders[1].headers
            )
        ).json()
        assert hidden == [
            {
                "survey_id": survey["id"],
                "table_number": 2,
                "shown": False,
                "responses": None,
                "questions": [],
            }
        ]

    async def test_my_table_is_for_facilitators_who_led_one(self, client, factory, db):
        admin = await factory.member("admin")
        event, people = await event_with(client, db, factory, admin, 1)
        survey = await open_survey_for(client, admin, event)
        idle = await factory.member("member", "facilitator")
        url = f"/api/v1/surveys/{survey['id']}/results/my-table"
        assert (await client.get(url, headers=idle.headers)).status_code == 404
        assert (await client.get(url, headers=people[0].headers)).status_code == 403
        assert (
            await client.get(f"/api/v1/surveys/{survey['id']}/results", headers=people[0].headers)
        ).status_code == 403


class TestExport:
    async def test_named_csv_and_json(self, client, factory, db):
        admin = await factory.member("admin")
        event, people = await event_with(client, db, factory, admin, 2)
        await seat(db, event["id"], {1: people})
        survey = await open_survey_for(client, admin, event, anonymous=False)
        await answer(
            client,
            people[0],
            survey["id"],
            {"liked": 5, "topics": ["AI", "Money"], "change": '=HYPERLINK("x")'},
        )
        await answer(client, people[1], survey["id"], {"liked": 3, "again": False})
        response = await client.get(f"/api/v1/surveys/{survey['id']}/export", headers=admin.headers)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        by_member = {r["member_id"]: r for r in rows}
        first = by_member[str(people[0].id)]
        assert first["member_name"] == people[0].member.full_name
        assert (first["table_number"], first["liked"], first["topics"]) == ("1", "5", "AI; Money")
        assert first["change"] == '\'=HYPERLINK("x")'  # inert in a spreadsheet
        assert by_member[str(people[1].id)]["again"] == "false"
        as_json = await client.get(
            f"/api/v1/surveys/{survey['id']}/export?format=json", headers=admin.headers
        )
        document = as_json.json()
        assert document["survey"]["id"] == survey["id"] and len(document["responses"]) == 2
        assert {r["liked"] for r in document["responses"]} == {5, 3}
        actions = (
            (
                await db.execute(
                    select(AuditEntry.action).where(AuditEntry.target_id == uuid.UUID(survey["id"]))
                )
            )
            .scalars()
            .all()
        )
        assert actions.count("survey.exported") == 2
        bad = await client.get(
            f"/api/v1/surveys/{survey['id']}/export?format=xlsx", headers=admin.headers
        )
        assert bad.status_code == 422


class TestReminders:
    async def test_invited_and_reminded_are_those_who_have_not_answered(
        self, client, factory, db, settings
    ):
        admin = await factory.member("admin")
        event, people = await event_with(client, db, factory, admin, 3)
        now = datetime.now(UTC)
        survey = await open_survey_for(
            client, admin, event, remind_at=(now + timedelta(days=2)).isoformat()
        )
        await answer(client, people[0], survey["id"], {"liked": 5})
        # Fanned out after one answered: the invitation spares them.
        assert sorted(await recipients(db, "survey.opened")) == sorted(p.id for p in people[1:])

        await service.run_schedule(db, settings, now + timedelta(days=2, minutes=1))
        assert (await survey_row(db, survey["id"])).reminded_at is not None
        await answer(client, people[1], survey["id"], {"liked": 4})
        assert await recipients(db, "survey.reminded") == [people[2].id]
        await service.run_schedule(db, settings, now + timedelta(days=2, minutes=2))
        assert len(await outbox_events(db, "survey.reminded")) == 1  # one reminder

        by_hand = await client.post(f"/api/v1/surveys/{survey['id']}/remind", headers=admin.headers)
        assert by_hand.status_code == 200
        assert len(await outbox_events(db, "survey.reminded")) == 2

    async def test_a_closed_survey_sends_nothing(self, client, factory, db):
        admin = await factory.member("admin")
        event, people = await event_with(client, db, factory, admin, 2)
        await open_survey_for(client, admin, event)
        await db.execute(update(Survey).values(status="closed"))
        assert await recipients(db, "survey.opened") == []
        [row] = await outbox_events(db, "survey.opened")
        notice = notice_for(row.type, row.data)
        assert notice is not None
        assert await notice.context(db, row, None, None) is None  # type: ignore[arg-type]


class TestInvitationEmail:
    @pytest.mark.parametrize(
        "language,anonymous,expected",
        [("ru", True, "Ответы анонимны"), ("en", False, "organisers see your name")],
    )
    async def test_rendered_in_the_member_language(
        self, client, factory, db, settings, language, anonymous, expected
    ):
        admin = await factory.member("admin")
        event, people = await event_with(client, db, factory, admin, 1)
        people[0].member.language = language
        survey = await open_survey_for(
            client, admin, event, anonymous=anonymous, closes_at="2099-01-01T10:00:00Z"
        )
        [row] = await outbox_events(db, "survey.opened")
        notice = notice_for(row.type, row.data)
        context = await notice.context(db, row, settings, people[0].member)
        message = render(notice, people[0].member, context, settings, uuid.uuid4())
        text = text_of(message)
        assert survey["title"] in message["Subject"] and expected in text
        # Babel's words, on the community's clock (Moscow is UTC+3), the zone named.
        when = (
            "1 января 2099, 13:00 (Москва" if language == "ru" else "1 January 2099, 13:00 (Moscow"
        )
        assert f"/surveys/{survey['id']}" in text and when in text


async def test_an_event_audience_for_a_survey_without_an_event(client, factory, db):
    """In a new survey's body the combination is invalid (422); for a stored survey without
    an event it conflicts with what is stored (409), and nothing changes."""
    admin = await factory.member("admin")
    refused = await client.post(
        "/api/v1/surveys",
        headers=admin.headers,
        json={"title": "Pulse", "questions": RATING_SURVEY, "audience": "checked_in"},
    )
    assert refused.status_code == 422
    survey = await create_survey(client, admin, title="Pulse")
    url = f"/api/v1/surveys/{survey['id']}"
    conflict = await client.patch(url, headers=admin.headers, json={"audience": "checked_in"})
    assert conflict.status_code == 409
    assert conflict.json()["detail"] == "A survey without an event can only ask all members."
    row = await db.get(Survey, uuid.UUID(survey["id"]))
    await db.refresh(row)
    assert row.audience == "members"


async def test_one_answer_cannot_be_read_by_differencing_a_live_breakdown(client, factory, db):
    """The attack: a facilitator reads their table's results before and after one person
    answers; with the breakdowns held back until the close, the two reads are the same."""
    admin = await factory.member("admin")
    event, people = await event_with(client, db, factory, admin, 6)
    leader = await factory.member("member", "facilitator")
    await seat(db, event["id"], {1: people}, facilitators={1: leader})
    survey = await open_survey_for(client, admin, event)
    for person in people[:5]:
        await answer(client, person, survey["id"], {"liked": 4})
    url = f"/api/v1/surveys/{survey['id']}/results/my-table"
    before = (await client.get(url, headers=leader.headers)).json()
    await answer(client, people[5], survey["id"], {"liked": 1})
    after = (await client.get(url, headers=leader.headers)).json()
    assert before == after and before[0]["shown"] is False
