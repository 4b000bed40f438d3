"""The canary scan over every exit (checklist P1, O5).

A member whose company, title, phone and e-mail are canary strings, with every consent off,
takes part in everything the community does: registers and confirms, is seated, brings a case
that is accepted and advised on, answers a survey; an applicant with canary company and title
applies and is reviewed. Then every way data leaves is read and searched for the canaries:

- every GET route of the app, as every role that is not the owner (anonymous, an applicant, a
  table mate, an assigned reviewer, the table's facilitator), with the world's real ids in the
  path and list queries that page, search and filter; errors included;
- the exports (cases as CSV, surveys as CSV and JSON, also as an admin);
- every outbound webhook body the relay delivered to a subscriber of every event type;
- every Bitrix24 request body the CRM channel sent;
- every e-mail sent to someone else;
- every log record written meanwhile (INFO and up, all of the app's own at DEBUG).
"""

import json
import logging
import random
import uuid
from email.message import EmailMessage

import httpx

from app.integrations.bitrix24.channel import CrmChannel
from app.notifications.channel import EmailChannel
from app.webhooks.channel import WebhookChannel
from app.worker.relay import Worker
from tests.applications.helpers import COMPLETE, reviewers
from tests.conftest import make_settings
from tests.events.helpers import confirm, create_event, move, register
from tests.integrations.bitrix24.conftest import make_client
from tests.integrations.bitrix24.fake import FakeBitrix24, FakeClock
from tests.paths import fill
from tests.security.openapi import document
from tests.surveys.helpers import RATING_SURVEY
from tests.tables.helpers import FUNCTIONS, attend

CANARY = {
    "company": "CANARY-COMPANY-7f3a",
    "job_title": "CANARY-TITLE-9b1c",
    "phone": "+7 999 000-77-31",
    "email": "canary-e8d2@example.com",
}
NEEDLES = [*CANARY.values(), "79990007731", "CANARY-"]  # the phone as digits, any canary


def hits(text: str) -> list[str]:
    lowered = text.lower()
    return [needle for needle in NEEDLES if needle.lower() in lowered]


class RecordingMail:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> None:
        self.messages.append(message)


async def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json() if response.content else {}


async def build_world(client, db, factory, webhook_url: str) -> dict:
    """Everything the owner takes part in; returns the actors and the ids of the objects."""
    admin = await factory.member("admin")
    owner = await factory.member("member", full_name="Owner Canary", **CANARY)
    facilitators = [
        await factory.member("member", "facilitator", full_name=f"Lead {i}") for i in range(2)
    ]
    people = [
        await factory.member("member", function=FUNCTIONS[i], full_name=f"Guest {i}")
        for i in range(5)
    ]
    types = await ok(await client.get("/api/v1/webhooks/event-types", headers=admin.headers))
    names = [t["name"] for t in (types["items"] if isinstance(types, dict) else types)]
    subscription = await ok(
        await client.post(
            "/api/v1/webhooks",
            headers=admin.headers,
            json={"url": webhook_url, "event_types": names},
        ),
        201,
    )

    # An event: the owner registers and confirms through the API, the rest are confirmed.
    event = await create_event(client, admin, table_size=4)
    await move(client, admin, event["id"], "published", "registration_open")
    registration = await register(client, owner, event["id"])
    await confirm(client, owner, registration["id"])
    await attend(db, event["id"], *facilitators, *people)
    # The owner's case, accepted, then the seating (the case goes to the owner's table).
    case = await ok(
        await client.post(
            "/api/v1/cases",
            headers=owner.headers,
            json={
                "event_id": event["id"],
                "title": "Analytics under the CFO",
                "context": "Forty analysts report to IT.",
                "question": "Finance or IT?",
                "good_outcome": "A plan.",
                "submit": True,
            },
        ),
        201,
    )
    await ok(await client.post(f"/api/v1/cases/{case['id']}/accept", headers=admin.headers))
    await ok(
        await client.post(
            f"/api/v1/events/{event['id']}/seating", headers=admin.headers, json={"seed": 1}
        ),
        201,
    )
    plan = await ok(
        await client.post(f"/api/v1/events/{event['id']}/seating/publish", headers=admin.headers)
    )
    table = next(
        t for t in plan["tables"] if str(owner.id) in {a["member_id"] for a in t["attendees"]}
    )
    at_table = {a["member_id"] for a in table["attendees"]} - {str(owner.id)}
    everyone = {str(a.id): a for a in [*facilitators, *people]}
    mate = next(everyone[m] for m in sorted(at_table) if everyone[m] in people)
    facilitator = next(
        (everyone[m] for m in at_table if everyone[m] in facilitators), facilitators[0]
    )
    advice = await ok(
        await client.post(
            f"/api/v1/cases/{case['id']}/recommendations",
            headers=mate.headers,
            json={"advice": "Move the analysts.", "experience": "Did it at a bank."},
        ),
        201,
    )
    # A survey of the event, answered by the owner and the mate.
    survey = await ok(
        await client.post(
            "/api/v1/surveys",
            headers=admin.headers,
            json={
                "title": "After the board",
                "event_id": event["id"],
                "anonymous": False,
                "audience": "confirmed",
                "questions": RATING_SURVEY,
            },
        ),
        201,
    )
    await ok(await client.post(f"/api/v1/surveys/{survey['id']}/open", headers=admin.headers))
    for actor in (owner, mate):
        await ok(
            await client.post(
                f"/api/v1/surveys/{survey['id']}/responses",
                headers=actor.headers,
                json={"answers": {"liked": 5, "change": "More tables."}},
            ),
            201,
        )
    # An applicant with canary company and title, reviewers not allowed to see them.
    council = await reviewers(factory, 3)
    applicant = await factory.member(
        "applicant", full_name="Applicant Canary", email="applicant-canary@example.com"
    )
    application = await ok(
        await client.post(
            "/api/v1/applications",
            headers=applicant.headers,
            json={
                **COMPLETE,
                "company": CANARY["company"],
                "job_title": CANARY["job_title"],
                "reviewers_may_see_company": False,
            },
        ),
        201,
    )
    await ok(
        await client.post(
            f"/api/v1/applications/{application['id']}/submit", headers=applicant.headers
        )
    )
    # The owner changes their profile (a member.updated event), consents still off.
    await ok(await client.patch("/api/v1/me", headers=owner.headers, json={"city": "Kazan"}))
    return {
        "admin": admin,
        "owner": owner,
        "mate": mate,
        "facilitator": facilitator,
        "reviewer": council[0],
        "applicant_owner": applicant,
        "ids": {
            "member_id": owner.id,
            "event_id": event["id"],
            "case_id": case["id"],
            "registration_id": registration["id"],
            "survey_id": survey["id"],
            "recommendation_id": advice["id"],
            "application_id": application["id"],
            "subscription_id": subscription["id"],
            "member_a": owner.id,
            "member_b": mate.id,
        },
    }


def _get_paths() -> list[str]:
    return sorted(path for path, item in document()["paths"].items() if "get" in item)


LIST_QUERIES = [
    {},
    {"limit": 100},
    {"q": CANARY["company"]},
    {"q": "Owner"},
    {"q": "canary"},
    {"status": "confirmed"},
]


async def test_no_canary_leaves_by_any_exit(
    client, db, factory, app, receiver, webhook_client, caplog
):
    # The level the app runs at (INFO), and everything of the app's own loggers. (Driver debug
    # logs such as aiosqlite's echo SQL parameters; they are never on in production.)
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="app")
    rec, base = receiver
    world = await build_world(client, db, factory, f"{base}/hook")
    ids = world["ids"]
    responses = 0

    # 1. Every GET route as every non-owner role (errors count: their bodies are exits too).
    applicant = await factory.member("applicant")
    await ok(
        await client.post("/api/v1/applications", headers=applicant.headers, json=COMPLETE), 201
    )
    roles = {
        "anonymous": {},
        "applicant": applicant.headers,
        "table mate": world["mate"].headers,
        "reviewer": world["reviewer"].headers,
        "facilitator": world["facilitator"].headers,
    }
    for role, headers in roles.items():
        for path in _get_paths():
            url = fill(path, **ids)
            for params in LIST_QUERIES if "{" not in path else [{}]:
                if "export" in path:
                    params = {**params, "event_id": ids["event_id"]}
                response = await client.get(url, headers=headers, params=params)
                responses += 1
                assert not hits(response.text), (role, url, params, hits(response.text))
    # What the crawl reached, so the scan is not vacuous: the owner's profile, table, case and
    # the canary application were all in front of the roles that looked.
    mate, lead = world["mate"].headers, world["facilitator"].headers
    reached = [
        (f"/api/v1/members/{ids['member_id']}", mate, "Owner Canary"),
        (f"/api/v1/events/{ids['event_id']}/tables/mine", mate, "Owner Canary"),
        (f"/api/v1/cases/{ids['case_id']}", mate, "Analytics under the CFO"),
        (f"/api/v1/cases/{ids['case_id']}", lead, "Analytics under the CFO"),
        (
            f"/api/v1/reviews/applications/{ids['application_id']}",
            world["reviewer"].headers,
            "Retail",
        ),
    ]
    for url, headers, expected in reached:
        response = await client.get(url, headers=headers)
        assert response.status_code == 200 and expected in response.text, (url, response.text)

    # 2. Exports, as the community and as an admin.
    exports = [
        ("/api/v1/cases/export", {"event_id": ids["event_id"]}, world["mate"]),
        ("/api/v1/cases/export", {"event_id": ids["event_id"]}, world["admin"]),
        (f"/api/v1/surveys/{ids['survey_id']}/export", {"format": "csv"}, world["admin"]),
        (f"/api/v1/surveys/{ids['survey_id']}/export", {"format": "json"}, world["admin"]),
    ]
    for path, params, actor in exports:
        response = await client.get(path, headers=actor.headers, params=params)
        assert response.status_code == 200, (path, response.text[:200])
        responses += 1
        assert not hits(response.text), (path, params, hits(response.text))

    # 3-5. The relay: webhooks to a real receiver, the CRM channel to a fake portal, e-mail.
    fake = FakeBitrix24(clock=FakeClock())
    mail = RecordingMail()
    settings = make_settings(worker_concurrency=1, webhook_timeout_seconds=2.0)
    async with httpx.AsyncClient(transport=fake.transport()) as crm_http:
        crm = make_client(crm_http, fake.clock)
        worker = Worker(
            app.state.sessionmaker,
            settings,
            [
                WebhookChannel(webhook_client),
                CrmChannel(
                    app.state.sessionmaker,
                    crm,
                    settings.bitrix24_lead_statuses,
                    settings.bitrix24_deal_stages,
                ),
                EmailChannel(app.state.sessionmaker, settings, mail),
            ],
            rng=random.Random(1),
        )
        for _ in range(10):
            if not await worker.run_once():
                break
    webhook_bodies = [arrival.body.decode() for arrival in rec.arrivals]
    types = {json.loads(body)["type"] for body in webhook_bodies}
    assert len(webhook_bodies) >= 10 and {"member.updated", "registration.confirmed"} <= types
    for body in webhook_bodies:
        assert not hits(body), (body[:300], hits(body))
    assert fake.contacts and fake.bodies
    for body in fake.bodies:
        assert not hits(body), (body[:300], hits(body))
    for stored in [*fake.contacts.values(), *fake.leads.values(), *fake.deals.values()]:
        assert not hits(json.dumps(stored, ensure_ascii=False)), stored
    owner_addresses = {CANARY["email"], "applicant-canary@example.com"}
    to_others = [
        m for m in mail.messages if not any(address in str(m["To"]) for address in owner_addresses)
    ]
    assert to_others, "no e-mail went to anyone else: the scan would prove nothing"
    for message in to_others:
        body = message.get_body(preferencelist=("plain",))
        text = f"{message['To']} {message['Subject']} {body.get_content() if body else ''}"
        assert not hits(text), (message["To"], message["Subject"], hits(text))

    # 6. Every log line written through all of the above.
    for record in caplog.records:
        line = record.getMessage() + (record.exc_text or "")
        assert not hits(line), (record.name, line[:300])

    # The figure for SECURITY.md (shown with -rP): what was scanned, all with 0 hits.
    logging.getLogger("tests.canary").warning(
        "canary scan: %d API responses, %d webhook bodies, %d CRM requests, %d e-mails to "
        "others, %d log records: 0 hits",
        responses,
        len(webhook_bodies),
        len(fake.bodies),
        len(to_others),
        len(caplog.records),
    )
    assert responses > 5 * len(_get_paths())


def test_needles_catch_what_they_should():
    assert hits('{"company": "canary-company-7f3a"}') and hits("tel:79990007731")
    assert not hits(json.dumps({"id": str(uuid.uuid4()), "name": "Owner"}))
