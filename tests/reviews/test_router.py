"""The expert council through HTTP: assignment rules, blind reading, reviews, the rule."""

import json
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.models.application import Application
from app.models.audit import AuditEntry
from app.models.review import ReviewAssignment
from app.reviews.assigning import fill_waiting_applications
from app.worker.schedule import JOBS
from tests.applications.helpers import (
    COMPLETE,
    SCORES_HIGH,
    SCORES_LOW,
    draft,
    review_body,
    reviewers,
    submitted,
)
from tests.conftest import outbox_events
from tests.paths import fill

CANARIES = {
    "full_name": "Zanzibar Quillfeather",
    "email": "canary-mail-7731@example.org",
    "phone": "+7 999 777-31-31",
    "links": ["https://canary-link-7731.example.net/profile"],
}


async def _assigned(db, application_id):
    rows = (
        (
            await db.execute(
                select(ReviewAssignment).where(
                    ReviewAssignment.application_id == uuid.UUID(application_id)
                )
            )
        )
        .scalars()
        .all()
    )
    return {r.reviewer_id: r.status for r in rows}


class TestAssignment:
    async def test_never_self_nor_same_company_nor_recused(self, client, factory, db):
        # Colleagues under other spellings of the applicant's company are never picked.
        await factory.member("reviewer", company='ООО "ACME"')
        await factory.member("reviewer", company="acme llc")
        fair = await reviewers(factory, 3, company="Other Corp")
        applicant = await factory.member("applicant", "reviewer", company="Acme")
        created = await client.post(
            "/api/v1/applications",
            headers=applicant.headers,
            json={**COMPLETE, "company": "«ACME», Inc."},
        )
        body = (
            await client.post(
                f"/api/v1/applications/{created.json()['id']}/submit", headers=applicant.headers
            )
        ).json()
        assert set(await _assigned(db, body["id"])) == {r.id for r in fair}
        assert body["status"] == "in_review"

    async def test_least_loaded_first(self, client, factory, db):
        busy = await reviewers(factory, 3)
        await submitted(client, factory, reviewer_count=0)  # loads the three
        fresh = await reviewers(factory, 3)
        _, body, _ = await submitted(client, factory, reviewer_count=0)
        assert set(await _assigned(db, body["id"])) == {r.id for r in fresh}
        assert busy

    async def test_recusal_brings_a_replacement(self, client, factory, db):
        _, body, council = await submitted(client, factory, reviewer_count=4)
        assigned = await _assigned(db, body["id"])
        first = next(r for r in council if r.id in assigned)
        spare = next(r for r in council if r.id not in assigned)
        url = f"/api/v1/reviews/applications/{body['id']}/recuse"
        response = await client.post(url, headers=first.headers, json={"reason": "I know them"})
        assert response.status_code == 204
        after = await _assigned(db, body["id"])
        assert after[first.id] == "recused" and after[spare.id] == "active"
        again = await client.post(url, headers=first.headers, json={"reason": "x"})
        assert again.status_code == 404
        blind = await client.get(
            f"/api/v1/reviews/applications/{body['id']}", headers=first.headers
        )
        assert blind.status_code == 404
        reviews = await client.get(
            f"/api/v1/applications/{body['id']}/reviews", headers=first.headers
        )
        assert reviews.status_code == 404
        empty = await client.post(url, headers=spare.headers, json={"reason": ""})
        assert empty.status_code == 422

    async def test_cannot_recuse_after_reviewing(self, client, factory):
        _, body, council = await submitted(client, factory)
        await client.post(
            f"/api/v1/applications/{body['id']}/reviews",
            headers=council[0].headers,
            json=review_body(SCORES_HIGH),
        )
        response = await client.post(
            f"/api/v1/reviews/applications/{body['id']}/recuse",
            headers=council[0].headers,
            json={"reason": "late"},
        )
        assert response.status_code == 409

    async def test_admin_reassign(self, client, factory, db):
        admin = await factory.member("admin")
        _, body, council = await submitted(client, factory)
        colleague = await factory.member("reviewer", company="ACME")
        named = await factory.member("reviewer")
        url = f"/api/v1/applications/{body['id']}/reassign"
        conflicted = await client.post(
            url,
            headers=admin.headers,
            json={"remove_reviewer_id": str(council[0].id), "add_reviewer_id": str(colleague.id)},
        )
        assert conflicted.status_code == 409
        assert conflicted.json()["type"] == "/problems/conflict-of-interest"
        done = await client.post(
            url,
            headers=admin.headers,
            json={"remove_reviewer_id": str(council[0].id), "add_reviewer_id": str(named.id)},
        )
        assert done.status_code == 200
        statuses = {a["reviewer_id"]: a["status"] for a in done.json()}
        assert statuses[str(council[0].id)] == "removed"
        assert statuses[str(named.id)] == "active"
        missing = await client.post(
            url, headers=admin.headers, json={"remove_reviewer_id": str(uuid.uuid4())}
        )
        assert missing.status_code == 404
        entry = (
            await db.execute(select(AuditEntry).where(AuditEntry.action == "review.reassigned"))
        ).scalar_one()
        assert entry.details["removed"] == str(council[0].id)
        listed = await client.get(
            f"/api/v1/applications/{body['id']}/assignments", headers=admin.headers
        )
        assert len(listed.json()) == 4


async def test_scheduled_fill_completes_waiting_applications(client, factory, db, settings):
    _, body, council = await submitted(client, factory, reviewer_count=2)
    assert body["status"] == "submitted"
    assert await fill_waiting_applications(db, settings, datetime.now(UTC)) == 0  # nobody new
    newcomer = await factory.member("reviewer")
    assert await fill_waiting_applications(db, settings, datetime.now(UTC)) == 1
    assigned = await _assigned(db, body["id"])
    assert set(assigned) == {r.id for r in council} | {newcomer.id}
    row = await db.get(Application, uuid.UUID(body["id"]))
    await db.refresh(row)
    assert row.status == "in_review"
    assert await fill_waiting_applications(db, settings, datetime.now(UTC)) == 0
    assert "fill_review_assignments" in {job.name for job in JOBS}


class TestBlind:
    async def test_canary_never_reaches_a_reviewer(self, client, factory, app):
        """Every GET route of the API, and the review writes, as each assigned reviewer: no
        trace of the applicant's name, contacts, links, or (without consent) company."""
        app.state.settings.reviews_hidden_until_own_submitted = False
        try:
            council = await reviewers(factory, 3)
            applicant = await factory.member("applicant", **CANARIES)
            text = (
                f"I am {CANARIES['full_name']}, write to {CANARIES['email']} or call "
                f"{CANARIES['phone']}; see {CANARIES['links'][0]} and t.me @zanzibar77."
            )
            created = await client.post(
                "/api/v1/applications",
                headers=applicant.headers,
                json={
                    **COMPLETE,
                    "experience_summary": text,
                    "wants": text,
                    "gives": text,
                    "reviewers_may_see_company": False,
                },
            )
            application_id = created.json()["id"]
            await client.post(
                f"/api/v1/applications/{application_id}/submit", headers=applicant.headers
            )
            reviewer = council[0]
            url = f"/api/v1/applications/{application_id}/reviews"
            review = await client.post(url, headers=reviewer.headers, json=review_body(SCORES_HIGH))
            edited = await client.patch(
                f"/api/v1/reviews/{review.json()['id']}",
                headers=reviewer.headers,
                json={"confidence": 3},
            )
            bodies = [review.text, edited.text]
            document = app.openapi()
            gets = sorted(path for path, item in document["paths"].items() if "get" in item)
            for path in gets:
                target = fill(
                    path,
                    application_id=application_id,
                    review_id=review.json()["id"],
                    member_id=applicant.id,
                )
                for who in council:
                    for params in ({}, {"limit": 100}):
                        response = await client.get(target, headers=who.headers, params=params)
                        if "json" not in response.headers.get("content-type", ""):
                            bodies.append(response.text)  # exports (CSV) are read as text
                            continue
                        body = response.json() if response.content else {}
                        if isinstance(body, dict):
                            body.pop("instance", None)  # a problem echoes the path asked for
                        bodies.append(json.dumps(body, ensure_ascii=False))
            everything = "\n".join(bodies)
            for value in (
                "Zanzibar",
                "Quillfeather",
                "canary-mail-7731",
                "777-31-31",
                "canary-link-7731",
                "zanzibar77",
                "Acme",
                "Chief Technology Officer",
                str(applicant.id),
            ):
                assert value not in everything, value
            assert len(bodies) >= 2 + 6 * len(gets)
            blind = (
                await client.get(
                    f"/api/v1/reviews/applications/{application_id}", headers=reviewer.headers
                )
            ).json()
            assert blind["company"] is None and blind["job_title"] is None
            assert "[hidden]" in blind["experience_summary"]
            assert blind["function"] == "CTO" and blind["seniority_label"] == "C-level"
        finally:
            app.state.settings.reviews_hidden_until_own_submitted = True

    async def test_company_and_title_with_consent(self, client, factory):
        _, body, council = await submitted(client, factory)
        blind = (
            await client.get(
                f"/api/v1/reviews/applications/{body['id']}", headers=council[0].headers
            )
        ).json()
        assert blind["company"] == "Acme"
        assert blind["job_title"] == "Chief Technology Officer"
        assert set(blind) >= {"experience_summary", "wants", "gives", "team_size"}
        assert not {"full_name", "email", "phone", "links", "member_id"} & set(blind)

    async def test_unassigned_reviewer_sees_nothing(self, client, factory):
        _, body, _ = await submitted(client, factory)
        outsider = await factory.member("reviewer")
        for path in (
            f"/api/v1/reviews/applications/{body['id']}",
            f"/api/v1/applications/{body['id']}/reviews",
            f"/api/v1/applications/{body['id']}",
        ):
            assert (await client.get(path, headers=outsider.headers)).status_code == 404

    async def test_others_reviews_hidden_until_mine(self, client, factory):
        _, body, council = await submitted(client, factory)
        url = f"/api/v1/applications/{body['id']}/reviews"
        await client.post(url, headers=council[0].headers, json=review_body(SCORES_HIGH))
        before = (await client.get(url, headers=council[1].headers)).json()
        assert before["items"] == [] and before["others_hidden"] is True
        await client.post(url, headers=council[1].headers, json=review_body(SCORES_HIGH))
        after = (await client.get(url, headers=council[1].headers)).json()
        assert len(after["items"]) == 2 and after["others_hidden"] is False
        assert sorted(i["mine"] for i in after["items"]) == [False, True]
        assert all("reviewer_id" not in i for i in after["items"])


class TestReviews:
    async def test_queue_oldest_first_and_gone_once_reviewed(self, client, factory):
        council = await reviewers(factory, 3)
        ids = []
        for _ in range(3):
            _, body, _ = await submitted(client, factory, reviewer_count=0)
            ids.append(body["id"])
        reviewer = council[0]
        queue = (
            await client.get("/api/v1/reviews/queue", headers=reviewer.headers, params={"limit": 2})
        ).json()
        assert [i["application_id"] for i in queue["items"]] == ids[:2]
        rest = (
            await client.get(
                "/api/v1/reviews/queue",
                headers=reviewer.headers,
                params={"cursor": queue["next_cursor"]},
            )
        ).json()
        assert [i["application_id"] for i in rest["items"]] == ids[2:]
        await client.post(
            f"/api/v1/applications/{ids[0]}/reviews",
            headers=reviewer.headers,
            json=review_body(SCORES_HIGH),
        )
        queue = (await client.get("/api/v1/reviews/queue", headers=reviewer.headers)).json()
        assert [i["application_id"] for i in queue["items"]] == ids[1:]

    async def test_one_review_each_scored_on_the_rubric(self, client, factory, db):
        _, body, council = await submitted(client, factory)
        url = f"/api/v1/applications/{body['id']}/reviews"
        missing = await client.post(
            url, headers=council[0].headers, json=review_body({"managerial_experience": 5})
        )
        assert missing.status_code == 422
        assert missing.json()["type"] == "/problems/scores-mismatch"
        out_of_scale = await client.post(
            url, headers=council[0].headers, json=review_body({**SCORES_HIGH, "peer_value": 6})
        )
        assert out_of_scale.status_code == 422
        first = await client.post(url, headers=council[0].headers, json=review_body(SCORES_HIGH))
        assert first.status_code == 201
        [event] = await outbox_events(db, "review.submitted")
        assert event.data == {"id": first.json()["id"], "version": 1, "application_id": body["id"]}
        # (5*0.4 + 4*0.3 + 4*0.3) / 1.0
        assert first.json()["weighted_score"] == pytest.approx(4.4)
        second = await client.post(url, headers=council[0].headers, json=review_body(SCORES_HIGH))
        assert second.status_code == 409

    async def test_edit_until_decision(self, client, factory):
        _, body, council = await submitted(client, factory)
        url = f"/api/v1/applications/{body['id']}/reviews"
        review = (
            await client.post(url, headers=council[0].headers, json=review_body(SCORES_HIGH))
        ).json()
        review_url = f"/api/v1/reviews/{review['id']}"
        etag = (await client.get(review_url, headers=council[0].headers)).headers["etag"]
        edited = await client.patch(
            review_url,
            headers={**council[0].headers, "If-Match": etag},
            json={"scores": SCORES_LOW, "comment": "Second thoughts"},
        )
        assert edited.status_code == 200 and edited.json()["weighted_score"] == pytest.approx(1.6)
        stale = await client.patch(
            review_url, headers={**council[0].headers, "If-Match": etag}, json={"confidence": 2}
        )
        assert stale.status_code == 412
        other = await client.patch(review_url, headers=council[1].headers, json={})
        assert other.status_code == 404
        for reviewer in council[1:]:
            await client.post(url, headers=reviewer.headers, json=review_body(SCORES_LOW))
        final = await client.patch(review_url, headers=council[0].headers, json={"confidence": 1})
        assert final.status_code == 409

    async def test_rule_approves_at_quorum(self, client, factory, db):
        applicant, body, council = await submitted(client, factory)
        url = f"/api/v1/applications/{body['id']}/reviews"
        for reviewer in council[:2]:
            await client.post(url, headers=reviewer.headers, json=review_body(SCORES_HIGH))
        assert await outbox_events(db, "application.decided") == []
        await client.post(url, headers=council[2].headers, json=review_body(SCORES_HIGH))
        [event] = await outbox_events(db, "application.decided")
        assert event.data["status"] == "approved" and event.data["decided_by"] == "rule"
        row = await db.get(Application, uuid.UUID(body["id"]))
        await db.refresh(row)
        assert row.status == "approved" and row.decided_by == "rule"
        late = await client.post(url, headers=council[0].headers, json=review_body(SCORES_HIGH))
        assert late.status_code == 409

    async def test_disagreement_goes_to_an_admin(self, client, factory, db):
        admin = await factory.member("admin")
        _, body, council = await submitted(client, factory)
        url = f"/api/v1/applications/{body['id']}/reviews"
        for reviewer, scores in zip(council, (SCORES_HIGH, SCORES_HIGH, SCORES_LOW), strict=True):
            await client.post(url, headers=reviewer.headers, json=review_body(scores))
        read = (
            await client.get(f"/api/v1/applications/{body['id']}", headers=admin.headers)
        ).json()
        assert read["status"] == "in_review" and read["escalation"] == "disagreement"
        [event] = await outbox_events(db, "application.escalated")
        assert event.data["escalation"] == "disagreement"
        waiting = (
            await client.get(
                "/api/v1/applications", headers=admin.headers, params={"escalated": "true"}
            )
        ).json()
        assert [i["id"] for i in waiting["items"]] == [body["id"]]
        reviews = (await client.get(url, headers=admin.headers)).json()
        assert len(reviews["items"]) == 3 and reviews["normalised_score"] is not None
        assert {i["reviewer_id"] for i in reviews["items"]} == {str(r.id) for r in council}

    async def test_grey_band_goes_to_an_admin_who_decides(self, client, factory, db):
        admin = await factory.member("admin")
        applicant, body, council = await submitted(client, factory)
        url = f"/api/v1/applications/{body['id']}/reviews"
        middling = {"managerial_experience": 3, "expertise_depth": 3, "peer_value": 3}
        for reviewer in council:
            await client.post(url, headers=reviewer.headers, json=review_body(middling))
        read = (
            await client.get(f"/api/v1/applications/{body['id']}", headers=admin.headers)
        ).json()
        assert read["status"] == "in_review" and read["escalation"] == "grey_band"
        assert await outbox_events(db, "application.decided") == []
        decided = await client.post(
            f"/api/v1/applications/{body['id']}/decision",
            headers=admin.headers,
            json={"status": "waitlisted", "reason": "Borderline."},
        )
        assert decided.json()["escalation"] is None
        assert decided.json()["decided_by"] == "admin"
        mine = (
            await client.get(f"/api/v1/applications/{body['id']}", headers=applicant.headers)
        ).json()
        assert mine["status"] == "waitlisted" and mine["decision_reason"] == "Borderline."

    async def test_rule_rejects_below_threshold(self, client, factory, db):
        _, body, council = await submitted(client, factory)
        url = f"/api/v1/applications/{body['id']}/reviews"
        for reviewer in council:
            await client.post(url, headers=reviewer.headers, json=review_body(SCORES_LOW, "reject"))
        [event] = await outbox_events(db, "application.decided")
        assert event.data["status"] == "rejected" and event.data["decided_by"] == "rule"
        assert set(event.data) == {"id", "version", "status", "decided_by"}


class TestRubricAndStats:
    async def test_rubric_replace(self, client, factory, db):
        admin = await factory.member("admin")
        reviewer = await factory.member("reviewer")
        rubric = {
            "criteria": [
                {"key": "impact", "title": "Impact", "weight": 2},
                {"key": "peer_value", "title": "Peers", "weight": 1},
            ]
        }
        response = await client.put("/api/v1/reviews/rubric", headers=admin.headers, json=rubric)
        assert [c["key"] for c in response.json()["criteria"]] == ["impact", "peer_value"]
        read = await client.get("/api/v1/reviews/rubric", headers=reviewer.headers)
        assert read.json() == response.json()
        duplicate = await client.put(
            "/api/v1/reviews/rubric",
            headers=admin.headers,
            json={"criteria": [rubric["criteria"][0], rubric["criteria"][0]]},
        )
        assert duplicate.status_code == 422
        for bad in (
            {"criteria": []},
            {"criteria": [{"key": "Bad Key", "title": "t", "weight": 1}]},
            {"criteria": [{"key": "zero", "title": "t", "weight": 0}]},
        ):
            assert (
                await client.put("/api/v1/reviews/rubric", headers=admin.headers, json=bad)
            ).status_code == 422

    async def test_reviewer_stats(self, client, factory):
        admin = await factory.member("admin")
        _, body, council = await submitted(client, factory)
        url = f"/api/v1/applications/{body['id']}/reviews"
        harsh = {"managerial_experience": 3, "expertise_depth": 3, "peer_value": 3}
        for reviewer, scores in zip(council, (SCORES_HIGH, SCORES_HIGH, harsh), strict=True):
            await client.post(url, headers=reviewer.headers, json=review_body(scores))
        stats = (await client.get("/api/v1/reviews/stats", headers=admin.headers)).json()
        by_id = {s["reviewer_id"]: s for s in stats["items"]}
        assert by_id[str(council[2].id)]["harshness"] < 0 < by_id[str(council[0].id)]["harshness"]
        assert by_id[str(council[2].id)]["mean_score"] == pytest.approx(3.0)
        assert all(s["open_assignments"] == 0 for s in stats["items"])
        assert draft  # the helper module is shared with the applications tests
