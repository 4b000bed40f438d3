"""Privacy: consent rules (pure), and the canary sweep over every GET route."""

import uuid

import pytest
from sqlalchemy import select

from app.main import create_app
from app.members.privacy import Viewer, may_filter_by, may_see, visible_private_fields
from app.models.audit import AuditEntry
from app.models.member import PRIVATE_FIELDS, Visibility
from app.models.outbox import OutboxEvent
from tests.conftest import make_settings
from tests.paths import fill

OWNER = uuid.uuid4()


def viewer(**kw):
    return Viewer(
        id=kw.pop("id", uuid.uuid4()),
        is_admin=kw.pop("is_admin", False),
        sees_members=kw.pop("sees_members", True),
        **kw,
    )


class TestConsentRules:
    @pytest.mark.parametrize(
        "visibility,anonymous,applicant,member,table_mate,admin,owner",
        [
            (Visibility.nobody, False, False, False, False, True, True),
            (Visibility.table, False, False, False, True, True, True),
            (Visibility.members, False, False, True, True, True, True),
            (Visibility.public, True, True, True, True, True, True),
        ],
    )
    def test_who_sees_what(
        self, visibility, anonymous, applicant, member, table_mate, admin, owner
    ):
        assert may_see(None, OWNER, visibility) is anonymous
        assert may_see(viewer(sees_members=False), OWNER, visibility) is applicant
        assert may_see(viewer(), OWNER, visibility) is member
        assert may_see(viewer(table_mates=frozenset({OWNER})), OWNER, visibility) is table_mate
        assert may_see(viewer(is_admin=True), OWNER, visibility) is admin
        assert may_see(viewer(id=OWNER, sees_members=False), OWNER, visibility) is owner

    def test_fields_are_independent(self):
        visibilities = {
            "company": Visibility.members,
            "job_title": Visibility.nobody,
            "phone": Visibility.public,
            "email": Visibility.table,
        }
        assert visible_private_fields(viewer(), OWNER, visibilities) == ["company", "phone"]

    def test_only_admins_filter_by_private_fields(self):
        for name in PRIVATE_FIELDS:
            assert not may_filter_by(viewer(), name)
            assert not may_filter_by(None, name)
            assert may_filter_by(viewer(is_admin=True), name)
        assert may_filter_by(viewer(), "city")


CANARY = {
    "company": "CANARY-COMPANY-7f3a",
    "job_title": "CANARY-TITLE-9b1c",
    "phone": "+7 999 000-77-31",
    "email": "canary-e8d2@example.com",
}


def _get_routes() -> list[str]:
    document = create_app(make_settings()).openapi()
    return sorted(path for path, item in document["paths"].items() if "get" in item)


@pytest.mark.parametrize("role", ["anonymous", "applicant", "member", "reviewer", "facilitator"])
async def test_no_canary_anywhere(client, factory, db, role):
    owner = await factory.member(
        "member",
        **{k: v for k, v in CANARY.items() if k != "email"},
        email=CANARY["email"],
        full_name="Owner Canary",
    )
    headers = {}
    if role != "anonymous":
        headers = (await factory.member(role)).headers
    queries = [{}, {"q": "Owner"}, {"limit": 100}, {"sort": "-created_at"}]
    seen = 0
    for path in _get_routes():
        url = fill(path, member_id=owner.id)
        for params in queries if "{" not in path else [{}]:
            response = await client.get(url, headers=headers, params=params)
            seen += 1
            for value in CANARY.values():
                assert value not in response.text, (role, url, params)
                assert value.lower() not in response.text.lower(), (role, url, params)
    assert seen >= len(_get_routes())
    # Nor in the audit log, whoever looked.
    details = [str(e.details) for e in (await db.execute(select(AuditEntry))).scalars()]
    assert not any(value in d for d in details for value in CANARY.values())
    # Nor in any event consumers outside the community receive.
    events = [str(e.data) for e in (await db.execute(select(OutboxEvent))).scalars()]
    assert not any(value in d for d in events for value in CANARY.values())


async def test_admin_reads_are_audited_without_values(client, factory, db):
    admin = await factory.member("admin")
    owner = await factory.member("member", **{k: v for k, v in CANARY.items() if k != "email"})
    response = await client.get(f"/api/v1/members/{owner.id}", headers=admin.headers)
    assert response.json()["company"] == CANARY["company"]
    entries = (await db.execute(select(AuditEntry))).scalars().all()
    assert [e.action for e in entries] == ["member.private_fields_read"]
    assert not any(value in str(entries[0].details) for value in CANARY.values())
