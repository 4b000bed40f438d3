"""`dl surveys create-express / list / results` (table, JSON, CSV)."""

import csv
import io
import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.models.registration import Registration
from app.models.survey import Survey
from tests.conftest import committed_member
from tests.events.helpers import EVENT, soon


async def _event_with_attendees(live, app, engine, admin_headers, people: int):
    created = await live.post("/api/v1/events", headers=admin_headers, json={**EVENT, **soon()})
    event_id = created.json()["id"]
    assert (
        await live.post(
            f"/api/v1/events/{event_id}/status", headers=admin_headers, json={"status": "published"}
        )
    ).status_code == 200
    attendees = [await committed_member(app, engine, "member") for _ in range(people)]
    async with async_sessionmaker(engine)() as session:
        session.add_all(
            Registration(event_id=uuid.UUID(event_id), member_id=m.id, status="checked_in")
            for m, _ in attendees
        )
        await session.commit()
    return event_id, attendees


async def test_express_survey_then_its_results_three_ways(dl, app, engine, admin, live, tmp_path):
    _, headers = admin
    event_id, attendees = await _event_with_attendees(live, app, engine, headers, 6)
    created = await dl("surveys", "create-express", event_id, "--language", "en")
    assert created.exit_code == 0, created.stderr
    assert "anonymous, 5 questions" in created.stdout
    async with async_sessionmaker(engine)() as session:
        survey = (await session.execute(select(Survey))).scalar_one()
        assert (survey.status, survey.anonymous) == ("open", True)
    survey_id = str(survey.id)
    for i, (_, member_headers) in enumerate(attendees):
        answered = await live.post(
            f"/api/v1/surveys/{survey_id}/responses",
            headers=member_headers,
            json={"answers": {"liked": 5 if i < 5 else 2, "nps": 10 if i < 3 else 7}},
        )
        assert answered.status_code == 201, answered.text

    human = await dl("surveys", "results", survey_id)
    assert human.exit_code == 0, human.stderr
    assert "6 answers of 6 (100%)" in human.stdout and "satisfied" in human.stdout
    assert "83%" in human.stdout  # five of six at 4 or above
    figures = await dl.json("surveys", "results", survey_id)
    assert figures["responses"] == 6 and figures["nps"] == 50.0
    target = tmp_path / "answers.csv"
    exported = await dl("surveys", "results", survey_id, "--csv", "-o", str(target))
    assert exported.exit_code == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(rows) == 6 and sorted(r["liked"] for r in rows) == ["2", "5", "5", "5", "5", "5"]
    listed = await dl.json("surveys", "list", "--event", event_id)
    assert [s["id"] for s in listed] == [survey_id]


async def test_a_member_cannot_read_results(dl, engine, admin, live, app):
    _, headers = admin
    event_id, attendees = await _event_with_attendees(live, app, engine, headers, 1)
    survey = await dl.json("surveys", "create-express", event_id)
    member_token = attendees[0][1]["Authorization"].removeprefix("Bearer ")
    refused = await dl("surveys", "results", survey["id"], token=member_token)
    assert refused.exit_code == 1 and "Forbidden" in refused.stderr
    async with async_sessionmaker(engine)() as session:
        assert await session.scalar(select(func.count()).select_from(Survey)) == 1
