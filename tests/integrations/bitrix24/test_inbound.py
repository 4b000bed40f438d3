"""Events from the portal: the token check, the inbox, and the one change we accept back
(a corrected phone of a member whose consent lets the CRM hold it)."""

from contextlib import contextmanager
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from app.integrations.bitrix24 import inbound, service
from app.models.audit import AuditEntry
from app.models.crm import CrmLink
from app.models.inbox import InboxMessage
from app.models.member import Member
from tests.conftest import make_settings, outbox_events

TOKEN = "51856fefc120afa4b628cc82d3935cce"
URL = "/api/v1/integrations/bitrix24/events"
OPEN = {"phone_visibility": "members", "email_visibility": "members"}


@contextmanager
def token_configured(app):
    original = app.state.settings
    app.state.settings = make_settings(bitrix24_application_token=TOKEN)
    try:
        yield
    finally:
        app.state.settings = original


def event_body(crm_id: int, event: str = "ONCRMCONTACTUPDATE", token: str = TOKEN) -> str:
    return urlencode(
        {
            "event": event,
            "event_handler_id": "11",
            "data[FIELDS][ID]": str(crm_id),
            "ts": "1724695689",
            "auth[domain]": "portal.example",
            "auth[member_id]": "a223c6b3",
            "auth[application_token]": token,
        }
    )


async def post(client, body: str):
    return await client.post(
        URL, content=body.encode(), headers={"content-type": "application/x-www-form-urlencoded"}
    )


async def linked_member(db, factory, crm, **fields):
    actor = await factory.member(
        full_name="Anna Ivanova", phone="+7 900 111-22-33", **{**OPEN, **fields}
    )
    await service.sync_member(db, crm, actor.id)
    link = (await db.execute(select(CrmLink))).scalar_one()
    return actor, link


async def test_wrong_or_missing_token_stores_nothing(client, db, app):
    with token_configured(app):
        for body in (event_body(1, token="forged"), event_body(1, token=""), "event=X"):
            response = await post(client, body)
            assert response.status_code == 403, body
    unconfigured = await post(client, event_body(1))  # no token set: everything is refused
    assert unconfigured.status_code == 403
    assert (await db.execute(select(InboxMessage))).scalars().all() == []


async def test_a_corrected_phone_comes_back_once(client, db, app, factory, crm, fake):
    actor, link = await linked_member(db, factory, crm)
    fake.contacts[link.crm_id]["PHONE"][0]["VALUE"] = "+7 (900) 999-88-77"
    with token_configured(app):
        first = await post(client, event_body(link.crm_id))
        replay = await post(client, event_body(link.crm_id))
    assert (first.json(), replay.json()) == ({"status": "accepted"}, {"status": "duplicate"})
    assert await inbound.process_pending(db, crm) == 1
    member = await db.get(Member, actor.id)
    await db.refresh(member)
    assert (member.phone, member.version) == ("+79009998877", 2)
    [event] = await outbox_events(db, "member.updated")
    assert event.data["fields"] == ["phone"]
    [entry] = (
        (await db.execute(select(AuditEntry).where(AuditEntry.action == "member.updated_from_crm")))
        .scalars()
        .all()
    )
    assert "+7" not in str(entry.details)  # ids and field names only

    # The next sync does not echo the number back, and a second event changes nothing.
    calls = len(fake.requests)
    await service.sync_member(db, crm, actor.id)
    assert not any(m == "crm.contact.update" for m, _ in fake.requests[calls:])
    with token_configured(app):
        await post(client, event_body(link.crm_id).replace("ts=1724695689", "ts=1724695999"))
    await inbound.process_pending(db, crm)
    await db.refresh(member)
    assert member.version == 2


async def test_no_phone_consent_means_nothing_comes_back(client, db, app, factory, crm, fake):
    actor, link = await linked_member(db, factory, crm, phone_visibility="nobody")
    fake.contacts[link.crm_id].setdefault("PHONE", []).append(
        {"ID": "9", "VALUE": "+7 900 555-00-00", "VALUE_TYPE": "WORK"}
    )
    with token_configured(app):
        await post(client, event_body(link.crm_id))
    await inbound.process_pending(db, crm)
    member = await db.get(Member, actor.id)
    await db.refresh(member)
    assert member.phone == "+7 900 111-22-33" and member.version == 1


async def test_deleted_contact_loses_its_link_and_strangers_are_ignored(
    client, db, app, factory, crm, fake
):
    actor, link = await linked_member(db, factory, crm)
    with token_configured(app):
        await post(client, event_body(99999))  # not a contact of ours
        await post(client, event_body(link.crm_id, event="ONCRMCONTACTDELETE"))
    assert await inbound.process_pending(db, crm) == 2
    assert (await db.execute(select(CrmLink))).scalars().all() == []
    messages = (await db.execute(select(InboxMessage))).scalars().all()
    assert all(m.processed_at is not None for m in messages)


async def test_acknowledged_without_calling_the_portal(client, db, app, factory, crm, fake):
    """Checklist I5: the answer does not wait on the portal. The event is stored and answered;
    the portal is read later, by the worker, so a portal that takes 10 s (or never answers)
    cannot slow the acknowledgement: the request makes no call to it at all."""
    _actor, link = await linked_member(db, factory, crm)
    calls = len(fake.requests)
    with token_configured(app):
        responses = [
            await post(
                client, event_body(link.crm_id).replace("ts=1724695689", f"ts={1724695689 + n}")
            )
            for n in range(5)
        ]
    assert [r.status_code for r in responses] == [200] * 5
    assert len(fake.requests) == calls  # nothing asked of the portal while answering
    pending = (
        (await db.execute(select(InboxMessage).where(InboxMessage.processed_at.is_(None))))
        .scalars()
        .all()
    )
    assert len(pending) == 5


@pytest.mark.parametrize(
    "body",
    [
        "",
        "event=",
        "a" * 5000,
        "auth[application_token][]=x",
        "data[FIELDS][ID]=not-a-number&auth[application_token]=" + TOKEN,
        "\x00\x01\x02",
    ],
)
async def test_malformed_bodies_are_refused_or_kept_never_a_5xx(client, db, app, crm, body):
    """Checklist I1: a body without the token is refused and stores nothing; a signed body of
    the wrong shape is stored, and processing it later fails softly (no 5xx, no change)."""
    with token_configured(app):
        response = await post(client, body)
    assert response.status_code in (200, 403), response.text
    stored = (await db.execute(select(InboxMessage))).scalars().all()
    if response.status_code == 403:
        assert stored == []
    else:
        await inbound.process_pending(db, crm)
        assert await outbox_events(db) == []
