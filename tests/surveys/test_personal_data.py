"""A member's survey answers as personal data: exported when named, unlinked on erasure."""

import uuid

from sqlalchemy import select

from app.models.survey import SurveyResponse
from tests.surveys.helpers import answer, event_with, open_survey_for

SECRET = "Tell Ivanov at Acme his budget plan leaked"


async def test_named_answers_are_exported_and_unlinked_with_text_blanked(client, db, factory):
    admin = await factory.member("admin")
    event, (person, other) = await event_with(client, db, factory, admin, 2)
    survey = await open_survey_for(client, admin, event, anonymous=False)
    await answer(client, person, survey["id"], {"liked": 4, "format": "tables", "change": SECRET})
    await answer(client, other, survey["id"], {"liked": 5})
    export = (await client.get("/api/v1/me/export", headers=person.headers)).json()
    assert export["survey_answers"] == [
        {
            "survey_id": survey["id"],
            "answers": {"liked": 4, "format": "tables", "change": SECRET},
            "submitted_on": export["survey_answers"][0]["submitted_on"],
        }
    ]
    other_export = (await client.get("/api/v1/me/export", headers=other.headers)).json()
    assert SECRET not in str(other_export)

    assert (await client.delete("/api/v1/me", headers=person.headers)).status_code == 204
    db.expire_all()
    rows = (
        (
            await db.execute(
                select(SurveyResponse).where(SurveyResponse.survey_id == uuid.UUID(survey["id"]))
            )
        )
        .scalars()
        .all()
    )
    kept = next(r for r in rows if r.answers.get("liked") == 4)
    # The rating and the choice still count in the results; the text and the link are gone.
    assert kept.member_id is None
    assert kept.answers == {"liked": 4, "format": "tables", "change": "[erased]"}
    results = (
        await client.get(f"/api/v1/surveys/{survey['id']}/results", headers=admin.headers)
    ).text
    assert SECRET not in results


async def test_anonymous_answers_are_not_in_anyones_export(client, db, factory):
    admin = await factory.member("admin")
    event, (person,) = await event_with(client, db, factory, admin, 1)
    survey = await open_survey_for(client, admin, event, anonymous=True)
    await answer(client, person, survey["id"], {"liked": 2, "change": SECRET})
    export = (await client.get("/api/v1/me/export", headers=person.headers)).json()
    assert export["survey_answers"] == [] and SECRET not in str(export)
