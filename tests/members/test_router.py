"""The member directory, my profile, consents, roles, export and erasure."""

import uuid

from sqlalchemy import select

from app.core.pagination import encode_cursor
from app.models.audit import AuditEntry
from app.models.member import ConsentChange, Member, MemberRole
from app.models.token import ApiToken, RefreshToken
from tests.conftest import outbox_events


class TestListMembers:
    async def test_filters(self, client, factory):
        viewer = await factory.member("member")
        cto = await factory.member(
            "member",
            function="CTO",
            city="Kazan",
            seniority=4,
            industry="Retail",
            expertise_tags=["cloud", "hiring"],
            full_name="Ivan Smirnov",
        )
        await factory.member(
            "member",
            function="CMO",
            city="Moscow",
            seniority=2,
            expertise_tags=["brand"],
            full_name="Olga Ivanova",
        )
        await factory.member("applicant", function="CTO", city="Kazan")  # not in the directory

        async def ids(**params):
            response = await client.get("/api/v1/members", headers=viewer.headers, params=params)
            assert response.status_code == 200, response.text
            return [item["id"] for item in response.json()["items"]]

        assert await ids(function="CTO") == [str(cto.id)]
        assert await ids(city="kazan") == [str(cto.id)]
        assert await ids(seniority=4) == [str(cto.id)]
        assert await ids(industry="retail") == [str(cto.id)]
        assert await ids(tag="cloud") == [str(cto.id)]
        assert await ids(tag="clo") == []
        assert await ids(q="smirn") == [str(cto.id)]
        assert await ids(q="%") == []
        assert len(await ids()) == 3  # viewer, the CTO and the CMO; not the applicant

    async def test_each_member_once_whatever_their_roles(self, client, factory):
        # The directory joins the member role: more roles must not mean more rows.
        viewer = await factory.member("member")
        busy = await factory.member("member", "facilitator", "reviewer", "admin")
        listed = (await client.get("/api/v1/members", headers=viewer.headers)).json()
        assert sorted(i["id"] for i in listed["items"]) == sorted([str(viewer.id), str(busy.id)])
        single = await client.get(f"/api/v1/members/{busy.id}", headers=viewer.headers)
        assert single.status_code == 200

    async def test_applicant_sees_only_themselves(self, client, factory):
        applicant = await factory.member("applicant")
        other = await factory.member("member")
        listed = (await client.get("/api/v1/members", headers=applicant.headers)).json()
        assert [i["id"] for i in listed["items"]] == [str(applicant.id)]
        response = await client.get(f"/api/v1/members/{other.id}", headers=applicant.headers)
        assert response.status_code == 404

    async def test_private_fields_follow_consent(self, client, factory):
        viewer = await factory.member("member")
        applicant = await factory.member("applicant")
        owner = await factory.member(
            "member",
            company="Acme",
            job_title="CTO",
            phone="+7 900 000-00-00",
            company_visibility="members",
            job_title_visibility="public",
        )
        body = (await client.get(f"/api/v1/members/{owner.id}", headers=viewer.headers)).json()
        assert body["company"] == "Acme" and body["job_title"] == "CTO"
        assert body["phone"] is None and body["email"] is None
        assert "roles" not in body and "privacy" not in body
        # Applicants see no member at all, whatever the consent.
        hidden = await client.get(f"/api/v1/members/{owner.id}", headers=applicant.headers)
        assert hidden.status_code == 404

    async def test_private_filter_and_sort_refused_for_members(self, client, factory):
        viewer = await factory.member("member")
        admin = await factory.member("admin")
        for params in (
            {"company": "Acme"},
            {"email": "a@example.com"},
            {"sort": "company"},
            {"sort": "-company"},
            {"role": "admin"},
        ):
            response = await client.get("/api/v1/members", headers=viewer.headers, params=params)
            assert response.status_code == 422, params
            assert response.json()["type"] == "/problems/field-not-filterable"
            allowed = await client.get("/api/v1/members", headers=admin.headers, params=params)
            assert allowed.status_code == 200, params

    async def test_admin_company_filter_and_audit(self, client, factory, db):
        admin = await factory.member("admin")
        owner = await factory.member("member", company="Acme Corp")
        await factory.member("member", company="Other")
        response = await client.get(
            "/api/v1/members", headers=admin.headers, params={"company": "acme"}
        )
        assert [i["id"] for i in response.json()["items"]] == [str(owner.id)]
        assert response.json()["items"][0]["company"] == "Acme Corp"
        entry = (
            await db.execute(
                select(AuditEntry).where(AuditEntry.action == "member.private_fields_read")
            )
        ).scalar_one()
        assert entry.actor_id == admin.id and entry.details == {"member_ids": [str(owner.id)]}
        assert "Acme" not in str(entry.details)


class TestGetMember:
    async def test_admin_sees_everything_and_is_audited(self, client, factory, db):
        admin = await factory.member("admin")
        owner = await factory.member("member", company="Acme", phone="+7 900 111-22-33")
        response = await client.get(f"/api/v1/members/{owner.id}", headers=admin.headers)
        body = response.json()
        assert body["company"] == "Acme" and body["roles"] == ["member"]
        assert response.headers["etag"]
        entry = (await db.execute(select(AuditEntry))).scalar_one()
        assert (entry.action, entry.target_id) == ("member.private_fields_read", owner.id)

    async def test_unknown_id_and_malformed_id(self, client, factory):
        viewer = await factory.member("member")
        missing = await client.get(f"/api/v1/members/{uuid.uuid4()}", headers=viewer.headers)
        assert missing.status_code == 404
        malformed = await client.get("/api/v1/members/not-a-uuid", headers=viewer.headers)
        assert malformed.status_code == 422


class TestUpdateMe:
    async def test_update_profile_and_consent_history(self, client, factory, db):
        actor = await factory.member("member")
        response = await client.patch(
            "/api/v1/me",
            headers=actor.headers,
            json={
                "city": "Kazan",
                "function": "CTO",
                "seniority": 3,
                "company": "Acme",
                "expertise_tags": ["cloud"],
                "links": ["https://example.com/me"],
                "privacy": {"company": "members", "phone": "nobody"},
            },
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["privacy"]["company"] == "members"
        assert body["links"] == ["https://example.com/me"]
        assert body["seniority_label"] == "director"
        history = (await db.execute(select(ConsentChange))).scalars().all()
        assert [(c.field, c.visibility) for c in history] == [("company", "members")]
        api_history = (await client.get("/api/v1/me/consents", headers=actor.headers)).json()
        assert [(c["field"], c["visibility"]) for c in api_history] == [("company", "members")]
        entry = (await db.execute(select(AuditEntry))).scalar_one()
        assert entry.details["fields"] == sorted(
            ["city", "function", "seniority", "company", "expertise_tags", "links"]
        )
        assert "Acme" not in str(entry.details)

    async def test_invalid_values(self, client, factory):
        actor = await factory.member("member")
        for body in (
            {"seniority": 6},
            {"function": "wizard"},
            {"phone": "call me"},
            {"expertise_tags": ["x"] * 21},
            {"links": ["javascript:alert(1)"]},
            {"privacy": {"company": "everyone"}},
            {"privacy": {"salary": "nobody"}},
            {"roles": ["admin"]},
            {"full_name": None},
            {"bio": "x" * 2001},
        ):
            response = await client.patch("/api/v1/me", headers=actor.headers, json=body)
            assert response.status_code == 422, body

    async def test_if_match(self, client, factory):
        actor = await factory.member("member")
        etag = (await client.get("/api/v1/me", headers=actor.headers)).headers["etag"]
        first = await client.patch(
            "/api/v1/me", json={"city": "Kazan"}, headers={**actor.headers, "If-Match": etag}
        )
        assert first.status_code == 200 and first.headers["etag"] != etag
        stale = await client.patch(
            "/api/v1/me", json={"city": "Omsk"}, headers={**actor.headers, "If-Match": etag}
        )
        assert stale.status_code == 412
        assert stale.json()["type"] == "/problems/precondition-failed"
        current = await client.get("/api/v1/me", headers=actor.headers)
        assert current.json()["city"] == "Kazan"
        assert current.headers["etag"] == first.headers["etag"]
        star = await client.patch(
            "/api/v1/me", json={"city": "Omsk"}, headers={**actor.headers, "If-Match": "*"}
        )
        assert star.status_code == 200
        weak_tag = f"W/{star.headers['etag']}"
        weak = await client.patch(
            "/api/v1/me", json={"city": "Tver"}, headers={**actor.headers, "If-Match": weak_tag}
        )
        assert weak.status_code == 412  # If-Match compares strongly

    async def test_if_none_match(self, client, factory):
        actor = await factory.member("member")
        other = await factory.member("member")
        for url in ("/api/v1/me", f"/api/v1/members/{other.id}"):
            first = await client.get(url, headers=actor.headers)
            etag = first.headers["etag"]
            cached = await client.get(url, headers={**actor.headers, "If-None-Match": etag})
            assert cached.status_code == 304 and cached.content == b""
            assert cached.headers["etag"] == etag
            stale = await client.get(url, headers={**actor.headers, "If-None-Match": '"old"'})
            assert stale.status_code == 200 and stale.json() == first.json()


class TestRolesAndStatus:
    async def test_admin_sets_roles_and_member_since(self, client, factory, db):
        admin = await factory.member("admin")
        applicant = await factory.member("applicant")
        response = await client.put(
            f"/api/v1/members/{applicant.id}/roles",
            headers=admin.headers,
            json={"roles": ["member", "member"]},
        )
        assert response.status_code == 200
        assert response.json()["roles"] == ["member"]
        assert response.json()["member_since"] is not None
        roles = (
            (await db.execute(select(MemberRole.role).where(MemberRole.member_id == applicant.id)))
            .scalars()
            .all()
        )
        assert roles == ["member"]
        entry = (
            await db.execute(select(AuditEntry).where(AuditEntry.action == "member.roles_changed"))
        ).scalar_one()
        assert entry.details == {"from": ["applicant"], "to": ["member"]}

    async def test_admin_cannot_drop_own_admin_role(self, client, factory, db):
        admin = await factory.member("admin")
        response = await client.put(
            f"/api/v1/members/{admin.id}/roles", headers=admin.headers, json={"roles": ["member"]}
        )
        assert response.status_code == 422
        assert response.json()["type"] == "/problems/self-demotion"
        roles = (
            (await db.execute(select(MemberRole.role).where(MemberRole.member_id == admin.id)))
            .scalars()
            .all()
        )
        assert roles == ["admin"]
        assert (await client.get("/api/v1/me", headers=admin.headers)).status_code == 200

    async def test_unknown_role_and_unknown_member(self, client, factory):
        admin = await factory.member("admin")
        actor = await factory.member("member")
        bad = await client.put(
            f"/api/v1/members/{actor.id}/roles",
            headers=admin.headers,
            json={"roles": ["superuser"]},
        )
        assert bad.status_code == 422
        missing = await client.put(
            f"/api/v1/members/{uuid.uuid4()}/roles",
            headers=admin.headers,
            json={"roles": ["member"]},
        )
        assert missing.status_code == 404

    async def test_status_change(self, client, factory, db):
        admin = await factory.member("admin")
        actor = await factory.member("member")
        response = await client.patch(
            f"/api/v1/members/{actor.id}", headers=admin.headers, json={"status": "paused"}
        )
        assert response.status_code == 200 and response.json()["status"] == "paused"
        await db.refresh(actor.member)
        assert actor.member.status == "paused"


class TestExportAndErasure:
    async def test_export_holds_everything(self, client, factory):
        actor = await factory.member("member", company="Acme")
        await client.patch(
            "/api/v1/me", headers=actor.headers, json={"privacy": {"company": "members"}}
        )
        await client.post(
            "/api/v1/me/tokens", headers=actor.headers, json={"name": "s", "scopes": ["read"]}
        )
        body = (await client.get("/api/v1/me/export", headers=actor.headers)).json()
        assert body["profile"]["company"] == "Acme"
        assert [c["field"] for c in body["consent_history"]] == ["company"]
        assert [t["name"] for t in body["api_tokens"]] == ["s"]
        assert {"member.updated", "api_token.created"} <= {a["action"] for a in body["activity"]}

    async def test_erasure(self, client, factory, db):
        actor = await factory.with_password(
            "a long password",
            "member",
            company="Acme",
            phone="+7 900 000-00-00",
            full_name="Anna Petrova",
            email="anna@example.com",
        )
        login = await client.post(
            "/api/v1/auth/login", json={"email": "anna@example.com", "password": "a long password"}
        )
        assert login.status_code == 200
        await client.post(
            "/api/v1/me/tokens", headers=actor.headers, json={"name": "s", "scopes": ["read"]}
        )
        response = await client.delete("/api/v1/me", headers=actor.headers)
        assert response.status_code == 204
        db.expire_all()
        member = await db.get(Member, actor.id)
        assert member.full_name == "Erased member" and member.company is None
        assert member.phone is None and "anna" not in member.email
        assert member.password_hash is None and member.erased_at is not None
        assert (
            await db.execute(select(MemberRole).where(MemberRole.member_id == actor.id))
        ).first() is None
        assert all(t.revoked_at for t in (await db.execute(select(RefreshToken))).scalars())
        assert all(t.revoked_at for t in (await db.execute(select(ApiToken))).scalars())
        entries = (
            (await db.execute(select(AuditEntry).where(AuditEntry.action == "member.erased")))
            .scalars()
            .all()
        )
        assert len(entries) == 1 and entries[0].details == {}
        assert (await client.get("/api/v1/me", headers=actor.headers)).status_code == 401
        again = await client.post(
            "/api/v1/auth/login", json={"email": "anna@example.com", "password": "a long password"}
        )
        assert again.status_code == 401
        signup = await client.post(
            "/api/v1/auth/signup",
            json={"email": "anna@example.com", "password": "a long password", "full_name": "Anna"},
        )
        # The address is free again: a new account, asked to verify it.
        assert signup.status_code == 202
        [created] = await outbox_events(db, "account.verification_requested")
        assert created.subject_id != actor.id

    async def test_erased_member_leaves_the_directory(self, client, factory):
        viewer = await factory.member("member")
        actor = await factory.member("member")
        await client.delete("/api/v1/me", headers=actor.headers)
        listed = (await client.get("/api/v1/members", headers=viewer.headers)).json()
        assert str(actor.id) not in [i["id"] for i in listed["items"]]
        single = await client.get(f"/api/v1/members/{actor.id}", headers=viewer.headers)
        assert single.status_code == 404


class TestAudit:
    async def test_admin_lists_newest_first(self, client, factory):
        admin = await factory.member("admin")
        actor = await factory.member("member")
        await client.patch("/api/v1/me", headers=actor.headers, json={"city": "Kazan"})
        await client.patch("/api/v1/me", headers=actor.headers, json={"city": "Omsk"})
        response = await client.get(
            "/api/v1/audit", headers=admin.headers, params={"actor_id": str(actor.id), "limit": 1}
        )
        body = response.json()
        assert len(body["items"]) == 1 and body["next_cursor"]
        assert body["items"][0]["action"] == "member.updated"
        rest = await client.get(
            "/api/v1/audit",
            headers=admin.headers,
            params={"actor_id": str(actor.id), "cursor": body["next_cursor"]},
        )
        assert len(rest.json()["items"]) == 1 and rest.json()["next_cursor"] is None
        assert rest.json()["items"][0]["id"] != body["items"][0]["id"]
        for values in (["2026-01-01T00:00:00", str(uuid.uuid4())], ["x", "y"]):
            forged = encode_cursor("-occurred_at", values)
            response = await client.get(
                "/api/v1/audit", headers=admin.headers, params={"cursor": forged}
            )
            assert response.status_code == 422

    async def test_only_admins_read_it(self, client, factory):
        member = await factory.member("member", "reviewer", "facilitator")
        assert (await client.get("/api/v1/audit", headers=member.headers)).status_code == 403
