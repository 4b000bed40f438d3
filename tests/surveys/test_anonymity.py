"""Anonymous surveys: no route, export, e-mail or webhook ties an answer to the person who
gave it, and the database keeps who answered apart from what was answered."""

import csv
import io
import json
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.main import create_app
from app.models.survey import SurveyRespondent, SurveyResponse
from app.surveys import service
from app.webhooks.payloads import body_of
from tests.conftest import IS_POSTGRES, committed_member, make_settings, outbox_events
from tests.paths import fill
from tests.surveys.helpers import (
    answer,
    event_with,
    open_event_survey,
    open_survey_for,
    seat,
)

PEOPLE = 6


def _get_paths() -> list[str]:
    document = create_app(make_settings()).openapi()
    return sorted(path for path, item in document["paths"].items() if "get" in item)


async def anonymous_survey_answered(client, db, factory):
    """Six attendees at one facilitated table answer an anonymous survey, each with a
    marker in their text answer."""
    admin = await factory.member("admin")
    event, people = await event_with(client, db, factory, admin, PEOPLE)
    leader = await factory.member("member", "facilitator")
    await seat(db, event["id"], {1: people}, facilitators={1: leader})
    survey = await open_survey_for(client, admin, event)
    markers = {}
    for i, person in enumerate(people):
        markers[person.id] = f"marker-{uuid.uuid4().hex[:10]}"
        given = await answer(
            client,
            person,
            survey["id"],
            {"liked": 1 + i % 5, "nps": i, "change": markers[person.id]},
        )
        assert given == {
            "survey_id": survey["id"],
            "answered": True,
            "editable": False,
            "answers": None,
            "submitted_on": None,
        }
    return admin, leader, event, survey, people, markers


def identities(person) -> list[str]:
    return [str(person.id), person.member.email, person.member.full_name]


def assert_unlinked(text: str, people, markers, where: str) -> None:
    """No body may hold an answer's marker together with anything naming a respondent."""
    if not any(marker in text for marker in markers.values()):
        return
    for person in people:
        for identity in identities(person):
            assert identity not in text, f"{where} links an answer to {identity}"


async def test_the_database_keeps_who_apart_from_what(client, db, factory):
    _, _, _, survey, people, _ = await anonymous_survey_answered(client, db, factory)
    responses = (await db.execute(select(SurveyResponse))).scalars().all()
    assert len(responses) == PEOPLE
    assert all(r.member_id is None for r in responses)
    # Nothing on an answer row could be lined up with the respondent rows: no member, no
    # time finer than the day, a random id.
    columns = {c.key: c.type.python_type for c in inspect(SurveyResponse).columns}
    assert set(columns) == {
        "id",
        "survey_id",
        "member_id",
        "table_number",
        "answers",
        "submitted_on",
        "updated_on",
        "sealed",
    }
    assert {name for name, kind in columns.items() if kind.__name__ == "datetime"} == set()
    assert all(r.id.version == 4 for r in responses)
    respondents = (await db.execute(select(SurveyRespondent))).scalars().all()
    assert {r.member_id for r in respondents} == {p.id for p in people}
    if not IS_POSTGRES:
        # No rowid numbering answers in the order they came.
        with pytest.raises(OperationalError, match="rowid"):
            async with db.begin_nested():
                await db.execute(text("SELECT rowid FROM survey_response"))
    assert {c.key for c in inspect(SurveyRespondent).columns} == {"survey_id", "member_id"}


async def test_no_route_links_an_answer_to_its_author(client, db, factory):
    admin, leader, event, survey, people, markers = await anonymous_survey_answered(
        client, db, factory
    )
    seen_markers = set()
    for reader in (admin, leader, *people):
        for path in _get_paths():
            url = fill(path, survey_id=survey["id"], event_id=event["id"], member_id=people[0].id)
            for query in ("", "?format=json"):
                response = await client.get(url + query, headers=reader.headers)
                text = response.text
                seen_markers.update(m for m in markers.values() if m in text)
                assert_unlinked(text, people, markers, f"GET {url}{query} as {reader.id}")
    # The admins' results and exports do show every answer: only the link is missing.
    assert seen_markers == set(markers.values())


async def test_a_respondent_cannot_find_their_own_answer(client, db, factory):
    _, _, _, survey, people, markers = await anonymous_survey_answered(client, db, factory)
    for person in people:
        mine = await client.get(
            f"/api/v1/surveys/{survey['id']}/my-response", headers=person.headers
        )
        assert mine.json()["answered"] is True and mine.json()["answers"] is None
        exported = await client.get("/api/v1/me/export", headers=person.headers)
        assert markers[person.id] not in exported.text


async def test_exports_hold_answers_only_in_random_order(client, db, factory):
    admin, _, _, survey, people, markers = await anonymous_survey_answered(client, db, factory)
    url = f"/api/v1/surveys/{survey['id']}/export"
    orders = set()
    for _ in range(8):
        response = await client.get(url, headers=admin.headers)
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert set(rows[0]) == {"liked", "nps", "format", "topics", "again", "change"}
        orders.add(tuple(r["change"] for r in rows))
    # Six rows shuffled eight times: one order every time would mean no shuffling at all.
    assert len(orders) > 1
    document = (await client.get(f"{url}?format=json", headers=admin.headers)).json()
    assert {r["change"] for r in document["responses"]} == set(markers.values())
    for row in document["responses"]:
        assert set(row) == {"liked", "nps", "format", "topics", "again", "change"}
    texts = set()
    for _ in range(8):
        results = (
            await client.get(f"/api/v1/surveys/{survey['id']}/results", headers=admin.headers)
        ).json()
        texts.add(tuple(results["questions"][5]["texts"]))
    assert len(texts) > 1


async def test_no_event_payload_or_email_names_the_respondent(client, db, factory):
    _, _, _, survey, people, markers = await anonymous_survey_answered(client, db, factory)
    rows = [r for r in await outbox_events(db) if r.type.startswith("survey.")]
    created = [r for r in rows if r.type == "survey.response_created"]
    assert len(created) == PEOPLE
    for row in created:
        assert row.subject_id == uuid.UUID(survey["id"])
        assert row.data["response_id"] is None and row.data["member_id"] is None
    for row in rows:
        body = body_of(row).decode()
        for person in people:
            assert str(person.id) not in body
        assert not any(marker in body for marker in markers.values())
        json.loads(body)  # what a webhook receiver gets, verbatim


async def test_sealing_rewrites_new_answers_in_a_later_transaction(client, db, factory, settings):
    await anonymous_survey_answered(client, db, factory)
    assert await service.seal_answers(db, settings, datetime.now(UTC)) == PEOPLE
    db.expire_all()
    assert all(r.sealed for r in (await db.execute(select(SurveyResponse))).scalars())
    assert await service.seal_answers(db, settings, datetime.now(UTC)) == 0


@pytest.mark.skipif(not IS_POSTGRES, reason="transaction ids (xmin) are PostgreSQL's")
async def test_sealed_answers_share_no_transaction_with_who_answered(live, app, engine):
    """Committed for real: before sealing each answer carries the transaction id of its
    respondent row; after, none does."""
    _, admin = await committed_member(app, engine, "admin")
    people = [await committed_member(app, engine) for _ in range(3)]
    survey_id = await open_event_survey(
        live, app, engine, admin, [m for m, _ in people], anonymous=True
    )
    for _, headers in people:
        answered = await live.post(
            f"/api/v1/surveys/{survey_id}/responses",
            headers=headers,
            json={"answers": {"liked": 4}},
        )
        assert answered.status_code == 201

    async def shared() -> int:
        async with engine.connect() as connection:
            return int(
                await connection.scalar(
                    text(
                        "SELECT count(*) FROM survey_response r JOIN survey_respondent p "
                        "ON r.xmin::text = p.xmin::text"
                    )
                )
            )

    assert await shared() == 3
    maker = async_sessionmaker(engine, expire_on_commit=False)
    async with maker() as session:
        assert await service.seal_answers(session, make_settings(), datetime.now(UTC)) == 3
        await session.commit()
    assert await shared() == 0
