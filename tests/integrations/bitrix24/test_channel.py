"""Member events reach the CRM through the outbox relay: one delivery per event, retried no
sooner than the portal allows, failed for good on a refused value."""

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.integrations.bitrix24 import service
from app.integrations.bitrix24.channel import CrmChannel
from app.integrations.bitrix24.client import Bitrix24RequestError
from app.models.crm import CrmLink
from app.models.webhook import Delivery
from app.worker.relay import Worker
from tests.conftest import make_settings
from tests.integrations.bitrix24.fake import Outage

OPEN = {
    "company_visibility": "members",
    "job_title_visibility": "members",
    "phone_visibility": "members",
    "email_visibility": "members",
}


def crm_worker(app, crm) -> Worker:
    settings = make_settings(worker_concurrency=1)
    channel = CrmChannel(
        app.state.sessionmaker, crm, settings.bitrix24_lead_statuses, settings.bitrix24_deal_stages
    )
    return Worker(app.state.sessionmaker, settings, [channel], rng=random.Random(5))


async def crm_deliveries(db):
    db.expire_all()
    return list((await db.execute(select(Delivery).where(Delivery.channel == "crm"))).scalars())


async def test_profile_change_updates_the_contact(client, db, factory, app, crm, fake):
    actor = await factory.member(full_name="Anna Ivanova", email="anna@example.com", **OPEN)
    worker = crm_worker(app, crm)
    response = await client.patch(
        "/api/v1/me", headers=actor.headers, json={"job_title": "CTO", "company": "Acme"}
    )
    assert response.status_code == 200
    await worker.run_once()

    [delivery] = await crm_deliveries(db)
    assert delivery.status == "succeeded"
    [contact] = fake.contacts.values()
    assert (contact["POST"], contact["COMPANY_TITLE"]) == ("CTO", "Acme")
    [link] = (await db.execute(select(CrmLink))).scalars().all()
    assert link.subject_id == actor.id

    # The same event delivered again (at least once) changes nothing and calls nobody.
    calls = len(fake.requests)
    await db.execute(
        Delivery.__table__.update().values(status="pending", next_attempt_at=datetime.now(UTC))
    )
    await worker.run_once()
    assert len(fake.requests) == calls and len(fake.contacts) == 1


async def test_portal_outage_reschedules_after_the_portal_allows(
    client, db, factory, app, crm, fake, clock
):
    actor = await factory.member(full_name="Boris Petrov", **OPEN)
    fake.outage = Outage(until=clock() + 3600)
    worker = crm_worker(app, crm)
    await client.patch("/api/v1/me", headers=actor.headers, json={"city": "Kazan"})
    before = datetime.now(UTC)
    await worker.run_once()
    [delivery] = await crm_deliveries(db)
    assert delivery.status == "pending" and "retry in" in delivery.last_error
    assert delivery.next_attempt_at - before >= timedelta(seconds=5)
    assert fake.contacts == {}


async def test_refused_value_fails_the_delivery(client, db, factory, app, crm, monkeypatch):
    actor = await factory.member(full_name="Clara Smith", **OPEN)
    worker = crm_worker(app, crm)
    await client.patch("/api/v1/me", headers=actor.headers, json={"phone": "+7 900 000-00-00"})

    async def refused(*args, **kwargs):
        raise Bitrix24RequestError("ERROR_CORE", "Invalid phone")

    monkeypatch.setattr(service, "sync_member", refused)
    await worker.run_once()
    [delivery] = await crm_deliveries(db)
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "Invalid phone" in delivery.last_error


async def test_application_becomes_a_lead_that_follows_its_status(
    client, db, factory, app, crm, fake
):
    from tests.applications.helpers import submitted

    admin = await factory.member("admin")
    applicant, application, _ = await submitted(
        client,
        factory,
        full_name="Dina Orlova",
        email="dina@example.com",
        company_visibility="members",
        job_title_visibility="nobody",
    )
    worker = crm_worker(app, crm)
    await worker.run_once()
    [lead] = fake.leads.values()
    [contact_id] = fake.contacts
    assert (lead["STATUS_ID"], lead["CONTACT_ID"], lead["ORIGIN_ID"]) == (
        "IN_PROCESS",
        str(contact_id),
        application["id"],
    )
    assert (lead["UTM_SOURCE"], lead["UTM_CAMPAIGN"], lead["COMPANY_TITLE"]) == (
        "telegram",
        "autumn",
        "Acme",
    )
    assert "POST" not in lead  # the job title's consent is "nobody"
    assert "Led the platform rewrite" not in fake.sent_text()  # free text never leaves

    await client.post(
        f"/api/v1/applications/{application['id']}/decision",
        headers=admin.headers,
        json={"status": "approved", "reason": "Strong"},
    )
    await worker.run_once()
    [lead] = fake.leads.values()
    assert lead["STATUS_ID"] == "CONVERTED" and len(fake.leads) == 1
    [link] = (
        (await db.execute(select(CrmLink).where(CrmLink.subject_type == "application")))
        .scalars()
        .all()
    )
    assert str(link.subject_id) == application["id"] and link.crm_entity == "lead"
    assert {d.status for d in await crm_deliveries(db)} == {"succeeded"}


async def test_erasure_takes_the_contact_and_the_leads_away(client, db, factory, app, crm, fake):
    from tests.applications.helpers import submitted

    applicant, application, _ = await submitted(client, factory, full_name="Egor Lee", **OPEN)
    worker = crm_worker(app, crm)
    await worker.run_once()
    assert len(fake.leads) == 1 and len(fake.contacts) == 1

    erased = await client.delete("/api/v1/me", headers=applicant.headers)
    assert erased.status_code == 204
    await worker.run_once()
    assert fake.leads == {} and fake.contacts == {}
    assert (await db.execute(select(CrmLink))).scalars().all() == []


async def test_a_registration_is_a_deal_whose_stage_follows_it(client, db, factory, app, crm, fake):
    from tests.events.helpers import confirm, open_event, register

    admin = await factory.member("admin")
    member = await factory.member(full_name="Fedor Ko", **OPEN)
    event = await open_event(client, admin, title="Board #4")
    worker = crm_worker(app, crm)
    created = await register(client, member, event["id"], source="ads", utm_campaign="b4")
    await worker.run_once()
    [deal] = fake.deals.values()
    [contact_id] = fake.contacts
    assert (
        deal["TITLE"],
        deal["STAGE_ID"],
        deal["CONTACT_ID"],
        deal["UTM_CAMPAIGN"],
        deal["ORIGIN_ID"],
    ) == ("Board #4", "NEW", str(contact_id), "b4", created["id"])

    await confirm(client, member, created["id"])
    await client.post(f"/api/v1/registrations/{created['id']}/cancel", headers=member.headers)
    await worker.run_once()
    [deal] = fake.deals.values()
    assert deal["STAGE_ID"] == "APOLOGY" and len(fake.deals) == 1


async def test_timepad_guests_stay_out_of_the_crm(client, db, factory, app, crm, fake):
    from app.models.registration import Registration
    from tests.events.helpers import open_event

    admin = await factory.member("admin")
    event = await open_event(client, admin)
    guest = Registration(
        event_id=__import__("uuid").UUID(event["id"]),
        guest_email="guest@example.com",
        guest_name="Гость",
    )
    db.add(guest)
    await db.flush()
    assert await service.sync_registration(db, crm, guest.id, {}) == "skipped"
    assert fake.deals == {} and fake.contacts == {}
