"""The last two reviews arriving at once settle an application exactly once (PostgreSQL)."""

import asyncio

import pytest
from sqlalchemy import func, select

from app.models.application import Application
from app.models.outbox import OutboxEvent
from app.models.review import ReviewAssignment
from tests.applications.helpers import COMPLETE, SCORES_HIGH, review_body
from tests.conftest import IS_POSTGRES, committed_member

pytestmark = pytest.mark.skipif(not IS_POSTGRES, reason="concurrency is proven on PostgreSQL")
ROUNDS = 5


async def test_last_two_reviews_at_once_decide_once(live, app, engine):
    council = [await committed_member(app, engine, "reviewer") for _ in range(3)]
    for _ in range(ROUNDS):
        _, applicant = await committed_member(app, engine, "applicant")
        created = await live.post("/api/v1/applications", headers=applicant, json=COMPLETE)
        application_id = created.json()["id"]
        submitted = await live.post(
            f"/api/v1/applications/{application_id}/submit", headers=applicant
        )
        assert submitted.json()["status"] == "in_review"
        url = f"/api/v1/applications/{application_id}/reviews"
        first = await live.post(url, headers=council[0][1], json=review_body(SCORES_HIGH))
        assert first.status_code == 201
        responses = await asyncio.gather(
            *(
                live.post(url, headers=headers, json=review_body(SCORES_HIGH))
                for _, headers in council[1:]
            )
        )
        assert [r.status_code for r in responses] == [201, 201], [r.text for r in responses]
        async with engine.connect() as connection:
            decided = await connection.scalar(
                select(func.count())
                .select_from(OutboxEvent)
                .where(
                    OutboxEvent.type == "application.decided",
                    OutboxEvent.subject_id == application_id,
                )
            )
            status = await connection.scalar(
                select(Application.status).where(Application.id == application_id)
            )
        assert decided == 1 and status == "approved"


async def test_simultaneous_submissions_share_the_load(live, app, engine):
    council = [await committed_member(app, engine, "reviewer") for _ in range(6)]
    drafts = []
    for _ in range(6):
        _, applicant = await committed_member(app, engine, "applicant")
        created = await live.post("/api/v1/applications", headers=applicant, json=COMPLETE)
        drafts.append((created.json()["id"], applicant))
    responses = await asyncio.gather(
        *(
            live.post(f"/api/v1/applications/{application_id}/submit", headers=applicant)
            for application_id, applicant in drafts
        )
    )
    assert {r.json()["status"] for r in responses} == {"in_review"}
    async with engine.connect() as connection:
        loads = dict(
            (
                await connection.execute(
                    select(ReviewAssignment.reviewer_id, func.count()).group_by(
                        ReviewAssignment.reviewer_id
                    )
                )
            ).all()
        )
    # 18 assignments over 6 reviewers, chosen one submission after another: 3 each.
    assert sorted(loads.values()) == [3] * 6 and set(loads) == {m.id for m, _ in council}
