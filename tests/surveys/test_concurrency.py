"""Answering under contention, on PostgreSQL with separate connections and committed data."""

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.models.outbox import OutboxEvent
from app.models.survey import SurveyRespondent, SurveyResponse
from tests.conftest import IS_POSTGRES, committed_member
from tests.surveys.helpers import open_event_survey

pytestmark = pytest.mark.skipif(not IS_POSTGRES, reason="concurrency is proven on PostgreSQL")


@pytest.mark.parametrize("anonymous", [True, False])
async def test_one_person_answering_ten_times_at_once_is_one_answer(live, app, engine, anonymous):
    _, admin = await committed_member(app, engine, "admin")
    member, headers = await committed_member(app, engine)
    survey_id = await open_event_survey(live, app, engine, admin, [member], anonymous=anonymous)
    responses = await asyncio.gather(
        *(
            live.post(
                f"/api/v1/surveys/{survey_id}/responses",
                headers=headers,
                json={"answers": {"liked": 1 + i % 5}},
            )
            for i in range(10)
        )
    )
    assert sorted(r.status_code for r in responses) == [201] + [409] * 9
    maker = async_sessionmaker(engine, expire_on_commit=False)
    async with maker() as session:
        assert await session.scalar(select(func.count()).select_from(SurveyResponse)) == 1
        assert await session.scalar(select(func.count()).select_from(SurveyRespondent)) == 1
        assert (
            await session.scalar(
                select(func.count())
                .select_from(OutboxEvent)
                .where(OutboxEvent.type == "survey.response_created")
            )
            == 1
        )


async def test_answers_and_an_edit_racing_never_change_answered_questions(live, app, engine):
    """An admin's change and the first answers arrive together: either the change lands
    before any answer, or it is refused; answers never meet other questions."""
    _, admin = await committed_member(app, engine, "admin")
    people = [await committed_member(app, engine) for _ in range(8)]
    survey_id = await open_event_survey(
        live, app, engine, admin, [m for m, _ in people], anonymous=True
    )
    answers = [
        live.post(
            f"/api/v1/surveys/{survey_id}/responses", headers=h, json={"answers": {"liked": 5}}
        )
        for _, h in people
    ]
    change = live.patch(
        f"/api/v1/surveys/{survey_id}",
        headers=admin,
        json={"questions": [{"key": "other", "type": "yes_no", "text": "?", "required": True}]},
    )
    *answered, changed = await asyncio.gather(*answers, change)
    accepted = [r for r in answered if r.status_code == 201]
    if changed.status_code == 200:
        # The change came first: answers to the old questions were refused (422).
        assert accepted == [] and {r.status_code for r in answered} == {422}
    else:
        assert changed.status_code == 409 and len(accepted) == len(people)
