"""Applications through HTTP: drafting, every transition, decisions, the funnel."""

import uuid

import pytest
from sqlalchemy import select

from app.applications.service import check_transition
from app.core.errors import IllegalTransition
from app.models.application import Application, ApplicationStatus
from app.models.audit import AuditEntry
from app.models.member import Member, MemberRole
from app.models.review import ReviewAssignment
from tests.applications.helpers import (
    COMPLETE,
    SCORES_HIGH,
    SCORES_LOW,
    draft,
    review_body,
    submitted,
)
from tests.conftest import outbox_events


class TestDraft:
    async def test_create_read_edit(self, client, factory, db):
        applicant, body = await draft(client, factory)
        assert body["status"] == "draft" and body["company"] == "Acme"
        assert body["reviewers_may_see_company"] is True and body["company_consent_at"]
        assert "member_id" not in body and "escalation" not in body
        url = f"/api/v1/applications/{body['id']}"
        read = await client.get(url, headers=applicant.headers)
        assert read.json() == body
        etag = read.headers["etag"]
        edited = await client.patch(
            url,
            headers={**applicant.headers, "If-Match": etag},
            json={"team_size": 150, "reviewers_may_see_company": False},
        )
        assert edited.status_code == 200 and edited.json()["team_size"] == 150
        assert edited.json()["reviewers_may_see_company"] is False
        stale = await client.patch(
            url, headers={**applicant.headers, "If-Match": etag}, json={"team_size": 1}
        )
        assert stale.status_code == 412
        row = await db.get(Application, uuid.UUID(body["id"]))
        await db.refresh(row)
        assert row.team_size == 150 and row.version == 2

    async def test_one_open_application(self, client, factory):
        applicant, _ = await draft(client, factory)
        again = await client.post("/api/v1/applications", headers=applicant.headers, json={})
        assert again.status_code == 409
        assert again.json()["type"] == "/problems/open-application-exists"

    async def test_others_cannot_see_or_touch(self, client, factory):
        _, body = await draft(client, factory)
        stranger = await factory.member("applicant")
        url = f"/api/v1/applications/{body['id']}"
        assert (await client.get(url, headers=stranger.headers)).status_code == 404
        assert (await client.patch(url, headers=stranger.headers, json={})).status_code == 404
        for action in ("submit", "withdraw"):
            response = await client.post(f"{url}/{action}", headers=stranger.headers)
            assert response.status_code == 404
        mine = await client.get("/api/v1/applications", headers=stranger.headers)
        assert mine.json()["items"] == []

    @pytest.mark.parametrize(
        "field,value",
        [
            ("seniority", 6),
            ("function", "Wizard"),
            ("team_size", -1),
            ("experience_summary", "x" * 4001),
            ("company", "bad\u0000"),
            ("role", "admin"),
        ],
    )
    async def test_validation(self, client, factory, field, value):
        applicant = await factory.member("applicant")
        response = await client.post(
            "/api/v1/applications", headers=applicant.headers, json={field: value}
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"][:2] == ["body", field]

    async def test_incomplete_draft_cannot_be_submitted(self, client, factory, db):
        applicant = await factory.member("applicant")
        created = await client.post(
            "/api/v1/applications", headers=applicant.headers, json={"function": "CTO"}
        )
        response = await client.post(
            f"/api/v1/applications/{created.json()['id']}/submit", headers=applicant.headers
        )
        assert response.status_code == 409  # the stored draft, not the request, is lacking
        assert response.json()["type"] == "/problems/incomplete-application"
        assert "seniority" in response.json()["detail"]
        assert await outbox_events(db, "application.submitted") == []

    async def test_members_cannot_apply(self, client, factory):
        member = await factory.member("member", "applicant")
        response = await client.post("/api/v1/applications", headers=member.headers, json={})
        assert response.status_code == 409
        assert response.json()["type"] == "/problems/already-member"


ALL = [s.value for s in ApplicationStatus]
LEGAL = {
    ("draft", "submitted"),
    ("draft", "withdrawn"),
    ("submitted", "in_review"),
    ("submitted", "withdrawn"),
    ("submitted", "approved"),
    ("submitted", "rejected"),
    ("submitted", "waitlisted"),
    ("in_review", "withdrawn"),
    ("in_review", "approved"),
    ("in_review", "rejected"),
    ("in_review", "waitlisted"),
    ("waitlisted", "approved"),
    ("waitlisted", "rejected"),
}


@pytest.mark.parametrize("source", ALL)
@pytest.mark.parametrize("target", ALL)
def test_transition_table(source, target):
    application = Application(member_id=uuid.uuid4(), status=source)
    if (source, target) in LEGAL:
        check_transition(application, target)
    else:
        with pytest.raises(IllegalTransition):
            check_transition(application, target)


class TestTransitions:
    async def test_submit_assigns_reviewers(self, client, factory, db):
        applicant, body, council = await submitted(client, factory)
        assert body["status"] == "in_review" and body["submitted_at"]
        assignments = (
            (
                await db.execute(
                    select(ReviewAssignment).where(
                        ReviewAssignment.application_id == uuid.UUID(body["id"])
                    )
                )
            )
            .scalars()
            .all()
        )
        assert {a.reviewer_id for a in assignments} == {r.id for r in council}
        [event] = await outbox_events(db, "application.submitted")
        assert event.data == {
            "id": body["id"],
            "version": body["version"],
            "status": "in_review",
            "imported": False,
        }
        # Submitted: no more edits, no second submission.
        url = f"/api/v1/applications/{body['id']}"
        assert (
            await client.patch(url, headers=applicant.headers, json={"team_size": 1})
        ).status_code == 409
        again = await client.post(f"{url}/submit", headers=applicant.headers)
        assert again.status_code == 409
        assert again.json()["type"] == "/problems/illegal-transition"

    async def test_too_few_reviewers_stays_submitted(self, client, factory):
        _, body, _ = await submitted(client, factory, reviewer_count=2)
        assert body["status"] == "submitted"

    @pytest.mark.parametrize("stage", ["draft", "in_review"])
    async def test_withdraw(self, client, factory, db, stage):
        if stage == "draft":
            applicant, body = await draft(client, factory)
        else:
            applicant, body, _ = await submitted(client, factory)
        url = f"/api/v1/applications/{body['id']}"
        response = await client.post(f"{url}/withdraw", headers=applicant.headers)
        assert response.status_code == 200 and response.json()["status"] == "withdrawn"
        [event] = await outbox_events(db, "application.withdrawn")
        assert event.data == {"id": body["id"], "version": response.json()["version"]}
        for action in ("withdraw", "submit"):
            again = await client.post(f"{url}/{action}", headers=applicant.headers)
            assert again.status_code == 409, action
        # A withdrawn application frees the way for a new one.
        fresh = await client.post("/api/v1/applications", headers=applicant.headers, json={})
        assert fresh.status_code == 201

    @pytest.mark.parametrize("decided", ["approved", "rejected"])
    async def test_waitlisted_and_decided_cannot_be_withdrawn(self, client, factory, decided):
        admin = await factory.member("admin")
        applicant, body, _ = await submitted(client, factory)
        url = f"/api/v1/applications/{body['id']}"
        await client.post(
            f"{url}/decision",
            headers=admin.headers,
            json={"status": "waitlisted", "reason": "Full."},
        )
        assert (await client.post(f"{url}/withdraw", headers=applicant.headers)).status_code == 409
        await client.post(
            f"{url}/decision", headers=admin.headers, json={"status": decided, "reason": "Done."}
        )
        again = await client.post(
            f"{url}/decision",
            headers=admin.headers,
            json={"status": "waitlisted", "reason": "Back?"},
        )
        assert again.status_code == 409
        assert again.json()["type"] == "/problems/illegal-transition"

    async def test_decided_is_final(self, client, factory, db):
        admin = await factory.member("admin")
        applicant, body, _ = await submitted(client, factory)
        url = f"/api/v1/applications/{body['id']}"
        decided = await client.post(
            f"{url}/decision",
            headers=admin.headers,
            json={"status": "rejected", "reason": "Too early."},
        )
        assert decided.status_code == 200
        for status in ("approved", "waitlisted", "rejected"):
            again = await client.post(
                f"{url}/decision", headers=admin.headers, json={"status": status, "reason": "again"}
            )
            assert again.status_code == 409
        assert (await client.post(f"{url}/withdraw", headers=applicant.headers)).status_code == 409
        assert len(await outbox_events(db, "application.decided")) == 1

    async def test_draft_cannot_be_decided(self, client, factory):
        admin = await factory.member("admin")
        _, body = await draft(client, factory)
        response = await client.post(
            f"/api/v1/applications/{body['id']}/decision",
            headers=admin.headers,
            json={"status": "approved", "reason": "r"},
        )
        assert response.status_code == 409

    async def test_waitlisted_then_approved(self, client, factory, db):
        admin = await factory.member("admin")
        _, body, _ = await submitted(client, factory)
        url = f"/api/v1/applications/{body['id']}/decision"
        waitlisted = await client.post(
            url, headers=admin.headers, json={"status": "waitlisted", "reason": "Season full."}
        )
        assert waitlisted.json()["status"] == "waitlisted"
        approved = await client.post(
            url, headers=admin.headers, json={"status": "approved", "reason": "A place freed."}
        )
        assert approved.json()["status"] == "approved"
        assert approved.json()["decided_by"] == "admin"
        statuses = [e.data["status"] for e in await outbox_events(db, "application.decided")]
        assert statuses == ["waitlisted", "approved"]


class TestDecision:
    async def test_admin_approval_makes_a_member(self, client, factory, db):
        admin = await factory.member("admin")
        applicant, body, _ = await submitted(client, factory)
        response = await client.post(
            f"/api/v1/applications/{body['id']}/decision",
            headers=admin.headers,
            json={"status": "approved", "reason": "Clear yes."},
        )
        assert response.status_code == 200
        result = response.json()
        assert result["status"] == "approved" and result["decided_by"] == "admin"
        assert result["decision_reason"] == "Clear yes." and result["decided_at"]
        roles = set(
            (
                await db.execute(
                    select(MemberRole.role).where(MemberRole.member_id == applicant.id)
                )
            ).scalars()
        )
        assert roles == {"member"}
        member = await db.get(Member, applicant.id)
        await db.refresh(member)
        assert (member.function, member.seniority, member.company) == ("CTO", 4, "Acme")
        assert member.job_title == "Chief Technology Officer"
        assert member.company_visibility == member.job_title_visibility == "nobody"
        assert member.member_since is not None and member.token_version == 1
        [event] = await outbox_events(db, "application.decided")
        assert event.data == {
            "id": body["id"],
            "version": result["version"],
            "status": "approved",
            "decided_by": "admin",
        }
        [roles_event] = await outbox_events(db, "member.roles_changed")
        assert roles_event.data == {
            "id": str(applicant.id),
            "version": member.version,
            "roles": ["member"],
        }
        entry = (
            await db.execute(select(AuditEntry).where(AuditEntry.action == "application.decided"))
        ).scalar_one()
        assert entry.actor_id == admin.id and entry.details["reason"] == "Clear yes."
        # The old token carried the applicant role: it is revoked with the role change.
        stale = await client.get("/api/v1/me", headers=applicant.headers)
        assert stale.status_code == 401

    async def test_applicant_sees_decision_and_reason_never_reviews(self, client, factory):
        applicant, body, council = await submitted(client, factory)
        for reviewer in council:
            await client.post(
                f"/api/v1/applications/{body['id']}/reviews",
                headers=reviewer.headers,
                json=review_body(SCORES_LOW, "reject"),
            )
        mine = await client.get(f"/api/v1/applications/{body['id']}", headers=applicant.headers)
        assert mine.json()["status"] == "rejected"
        assert "threshold" in mine.json()["decision_reason"]
        assert "decided_by" not in mine.json() and "reviews" not in mine.json()
        reviews = await client.get(
            f"/api/v1/applications/{body['id']}/reviews", headers=applicant.headers
        )
        assert reviews.status_code == 403

    async def test_decision_needs_a_reason(self, client, factory):
        admin = await factory.member("admin")
        _, body, _ = await submitted(client, factory)
        for payload in (
            {"status": "approved"},
            {"status": "approved", "reason": ""},
            {"status": "withdrawn", "reason": "r"},
        ):
            response = await client.post(
                f"/api/v1/applications/{body['id']}/decision", headers=admin.headers, json=payload
            )
            assert response.status_code == 422, payload

    async def test_unknown_application(self, client, factory):
        admin = await factory.member("admin")
        response = await client.post(
            f"/api/v1/applications/{uuid.uuid4()}/decision",
            headers=admin.headers,
            json={"status": "approved", "reason": "r"},
        )
        assert response.status_code == 404


class TestRuleAndList:
    async def test_rule_edit_is_validated_and_audited(self, client, factory, db):
        admin = await factory.member("admin")
        url = "/api/v1/applications/decision-rule"
        assert (await client.get(url, headers=admin.headers)).json()["quorum"] == 3
        for bad, status in (
            ({"quorum": 2, "approve_at": 3.0, "reject_below": 4.0, "disagreement_limit": 1}, 422),
            # more than the 3 reviewers the configuration assigns: a conflict
            ({"quorum": 4, "approve_at": 4.0, "reject_below": 2.0, "disagreement_limit": 1}, 409),
            ({"quorum": 0, "approve_at": 4.0, "reject_below": 2.0, "disagreement_limit": 1}, 422),
        ):
            response = await client.put(url, headers=admin.headers, json=bad)
            assert response.status_code == status, bad
        good = await client.put(
            url,
            headers=admin.headers,
            json={"quorum": 2, "approve_at": 4.0, "reject_below": 2.0, "disagreement_limit": 1.5},
        )
        assert good.status_code == 200 and good.json()["version"] == 2
        entry = (
            await db.execute(select(AuditEntry).where(AuditEntry.action == "decision_rule.updated"))
        ).scalar_one()
        assert entry.details["to"]["quorum"] == 2

    async def test_admin_list_filters_and_pages(self, client, factory):
        admin = await factory.member("admin")
        ids = []
        for _ in range(3):
            _, body = await draft(client, factory)
            ids.append(body["id"])
        seen, cursor = [], None
        while True:
            params = {"limit": 2, "status": "draft", **({"cursor": cursor} if cursor else {})}
            page = (
                await client.get("/api/v1/applications", headers=admin.headers, params=params)
            ).json()
            seen += [item["id"] for item in page["items"]]
            assert all("member_id" in item for item in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == list(reversed(ids))
        bad = await client.get(
            "/api/v1/applications", headers=admin.headers, params={"cursor": "garbage"}
        )
        assert bad.status_code == 422


class TestFunnel:
    async def test_counts(self, client, factory):
        admin = await factory.member("admin")
        _, decided, council = await submitted(client, factory)
        for reviewer in council:
            await client.post(
                f"/api/v1/applications/{decided['id']}/reviews",
                headers=reviewer.headers,
                json=review_body(SCORES_HIGH),
            )
        _, open_one, _ = await submitted(client, factory)
        await draft(client, factory)
        stats = (await client.get("/api/v1/applications/stats", headers=admin.headers)).json()
        assert stats["total"] == 3
        assert stats["by_status"]["approved"] == 1 and stats["by_status"]["draft"] == 1
        assert stats["by_status"]["in_review"] == 1
        assert {"key": "ads", "count": 3} in stats["by_source"]
        assert {"key": "autumn", "count": 3} in stats["by_utm_campaign"]
        assert stats["approval_rate"] == 1.0
        assert stats["median_hours_to_decision"] >= 0
        outstanding = {r["reviewer_id"]: r["outstanding"] for r in stats["reviews_outstanding"]}
        assert sum(outstanding.values()) == 3 and set(outstanding.values()) == {1}
        assert COMPLETE["source"] == "ads"


class TestPrivacy:
    async def test_admin_reads_are_audited_with_ids_only(self, client, factory, db):
        admin = await factory.member("admin")
        _, body = await draft(client, factory)
        await client.get(f"/api/v1/applications/{body['id']}", headers=admin.headers)
        await client.get("/api/v1/applications", headers=admin.headers)
        entries = (
            (
                await db.execute(
                    select(AuditEntry).where(AuditEntry.action == "application.private_fields_read")
                )
            )
            .scalars()
            .all()
        )
        assert len(entries) == 2
        assert all(e.details == {"application_ids": [body["id"]]} for e in entries)
        assert not any("Acme" in str(e.details) for e in entries)

    async def test_erasure_blanks_and_withdraws(self, client, factory, db):
        applicant, body, council = await submitted(client, factory)
        export = (await client.get("/api/v1/me/export", headers=applicant.headers)).json()
        [exported] = export["applications"]
        assert exported["id"] == body["id"] and exported["company"] == "Acme"
        assert exported["experience_summary"] == COMPLETE["experience_summary"]
        assert "reviews" not in exported and "escalation" not in exported
        response = await client.delete("/api/v1/me", headers=applicant.headers)
        assert response.status_code == 204
        row = await db.get(Application, uuid.UUID(body["id"]))
        await db.refresh(row)
        assert row.status == "withdrawn" and row.withdrawn_at is not None
        assert row.company is None and row.experience_summary is None
        assert row.job_title is None and row.utm_campaign is None
        queue = await client.get("/api/v1/reviews/queue", headers=council[0].headers)
        assert queue.json()["items"] == []
