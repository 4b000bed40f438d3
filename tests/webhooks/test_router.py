"""The webhook management API: what admins see and change, and what they cannot do."""

import uuid

from sqlalchemy import select

from app.models.audit import AuditEntry
from app.models.webhook import WebhookSubscription
from tests.problems import assert_problem


async def test_create_shows_the_secret_once(client, factory, db):
    admin = await factory.member("admin")
    response = await client.post(
        "/api/v1/webhooks",
        headers=admin.headers,
        json={
            "url": "https://crm.example.com/hook",
            "event_types": ["member.updated"],
            "description": "CRM",
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["secret"].startswith("whsec_")
    assert (created["enabled"], created["event_types"], created["version"]) == (
        True,
        ["member.updated"],
        1,
    )

    read = await client.get(f"/api/v1/webhooks/{created['id']}", headers=admin.headers)
    assert "secret" not in read.json() and created["secret"] not in read.text
    listed = await client.get("/api/v1/webhooks", headers=admin.headers)
    assert created["secret"] not in listed.text
    assert [s["id"] for s in listed.json()["items"]] == [created["id"]]

    row = await db.get(WebhookSubscription, uuid.UUID(created["id"]))
    assert row.secret == created["secret"] and row.created_by == admin.id
    [entry] = (
        (await db.execute(select(AuditEntry).where(AuditEntry.action == "webhook.create")))
        .scalars()
        .all()
    )
    assert entry.target_id == row.id and created["secret"] not in str(entry.details)


async def test_unknown_event_type_and_unsafe_url_are_refused(client, factory, db):
    admin = await factory.member("admin")
    for body in (
        {"url": "https://example.com/h", "event_types": ["member.exploded"]},
        {"url": "https://169.254.169.254/latest"},
        {"url": "http://example.com/h"},
        {"url": "https://example.com/h", "extra": 1},
        {"url": "https://example.com/h\x00"},
    ):
        response = await client.post("/api/v1/webhooks", headers=admin.headers, json=body)
        assert response.status_code == 422, body
        assert_problem(response)
    assert (await db.execute(select(WebhookSubscription))).scalars().all() == []


async def test_update_with_if_match(client, factory, db):
    admin = await factory.member("admin")
    created = (
        await client.post(
            "/api/v1/webhooks", headers=admin.headers, json={"url": "https://example.com/h"}
        )
    ).json()
    url = f"/api/v1/webhooks/{created['id']}"
    etag = (await client.get(url, headers=admin.headers)).headers["ETag"]

    changed = await client.patch(
        url,
        headers={**admin.headers, "If-Match": etag},
        json={"enabled": False, "description": "paused"},
    )
    assert changed.status_code == 200
    assert (
        changed.json()["enabled"],
        changed.json()["disabled_reason"],
        changed.json()["version"],
    ) == (False, "admin", 2)

    stale = await client.patch(
        url, headers={**admin.headers, "If-Match": etag}, json={"enabled": True}
    )
    assert stale.status_code == 412
    assert_problem(stale)
    again = await client.patch(
        url, headers=admin.headers, json={"enabled": True, "url": "https://10.0.0.1/h"}
    )
    assert again.status_code == 422
    row = await db.get(WebhookSubscription, uuid.UUID(created["id"]))
    await db.refresh(row)
    assert (row.enabled, row.url) == (False, "https://example.com/h")

    reenabled = await client.patch(url, headers=admin.headers, json={"enabled": True})
    assert (reenabled.json()["enabled"], reenabled.json()["disabled_reason"]) == (True, None)


async def test_delete_removes_it(client, factory, db):
    admin = await factory.member("admin")
    created = (
        await client.post(
            "/api/v1/webhooks", headers=admin.headers, json={"url": "https://example.com/h"}
        )
    ).json()
    url = f"/api/v1/webhooks/{created['id']}"
    assert (await client.delete(url, headers=admin.headers)).status_code == 204
    assert (await client.get(url, headers=admin.headers)).status_code == 404
    assert await db.get(WebhookSubscription, uuid.UUID(created["id"])) is None


async def test_catalogue_lists_every_type_with_its_schema(client, factory):
    admin = await factory.member("admin")
    response = await client.get("/api/v1/webhooks/event-types", headers=admin.headers)
    types = {t["name"]: t for t in response.json()}
    assert {
        "member.created",
        "member.updated",
        "member.erased",
        "webhook.ping",
        "webhook_subscription.disabled",
    } <= set(types)
    updated = types["member.updated"]
    assert updated["version"] == 1 and updated["subject_type"] == "member"
    assert set(updated["data_schema"]["properties"]) == {
        "id",
        "version",
        "fields",
        "privacy_changed",
    }
    assert updated["data_schema"]["additionalProperties"] is False


async def test_deliveries_of_another_subscription_are_not_found(client, factory):
    admin = await factory.member("admin")
    first = (
        await client.post(
            "/api/v1/webhooks", headers=admin.headers, json={"url": "https://example.com/a"}
        )
    ).json()
    second = (
        await client.post(
            "/api/v1/webhooks", headers=admin.headers, json={"url": "https://example.com/b"}
        )
    ).json()
    ping = (await client.post(f"/api/v1/webhooks/{first['id']}/ping", headers=admin.headers)).json()
    crossed = await client.get(
        f"/api/v1/webhooks/{second['id']}/deliveries/{ping['id']}", headers=admin.headers
    )
    assert crossed.status_code == 404
    mine = await client.get(
        f"/api/v1/webhooks/{first['id']}/deliveries/{ping['id']}", headers=admin.headers
    )
    assert mine.json()["status"] == "pending"


async def test_list_pages_and_refuses_forged_cursors(client, factory):
    admin = await factory.member("admin")
    for n in range(3):
        await client.post(
            "/api/v1/webhooks", headers=admin.headers, json={"url": f"https://example.com/{n}"}
        )
    first = (
        await client.get("/api/v1/webhooks", params={"limit": 2}, headers=admin.headers)
    ).json()
    second = (
        await client.get(
            "/api/v1/webhooks",
            params={"limit": 2, "cursor": first["next_cursor"]},
            headers=admin.headers,
        )
    ).json()
    urls = [s["url"] for s in first["items"] + second["items"]]
    assert urls == ["https://example.com/2", "https://example.com/1", "https://example.com/0"]
    assert second["next_cursor"] is None
    forged = await client.get(
        "/api/v1/webhooks", params={"cursor": "bm9wZQ"}, headers=admin.headers
    )
    assert forged.status_code == 422
    huge = await client.get("/api/v1/webhooks", params={"limit": 10**9}, headers=admin.headers)
    assert huge.status_code == 422


async def test_members_cannot_manage_webhooks(client, factory, db):
    member = await factory.member("member")
    response = await client.post(
        "/api/v1/webhooks", headers=member.headers, json={"url": "https://example.com/h"}
    )
    assert response.status_code == 403
    assert (await db.execute(select(WebhookSubscription))).scalars().all() == []


# Every event type ever published. Names are a contract with receivers: a name may be added
# here, never removed or renamed; an incompatible payload change is a new version.
PUBLISHED = {
    "member.created",
    "member.updated",
    "member.status_changed",
    "member.roles_changed",
    "member.erased",
    "webhook.ping",
    "webhook_subscription.disabled",
    "application.submitted",
    "application.decided",
    "application.withdrawn",
    "application.escalated",
    "review.submitted",
    "event.published",
    "event.registration_opened",
    "event.registration_closed",
    "event.completed",
    "event.cancelled",
    "event.updated",
    "registration.created",
    "registration.confirmed",
    "registration.waitlisted",
    "registration.offered",
    "registration.cancelled",
    "registration.checked_in",
    "registration.no_show",
    "seating.published",
    "case.status_changed",
    "recommendation.created",
    "survey.opened",
    "survey.reminded",
    "survey.closed",
    "survey.response_created",
}


async def test_published_event_names_never_disappear(client, factory):
    admin = await factory.member("admin")
    response = await client.get("/api/v1/webhooks/event-types", headers=admin.headers)
    names = {t["name"] for t in response.json()}
    assert PUBLISHED <= names, f"published event types vanished: {PUBLISHED - names}"
    assert names <= PUBLISHED, f"add the new event types to PUBLISHED: {names - PUBLISHED}"
