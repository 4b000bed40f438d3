"""E-mail through the outbox to a real local SMTP server: recipients, languages, refusals."""

import logging
import random
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from app.core.http import outbound_client
from app.models.member import Member
from app.models.webhook import Delivery
from app.notifications.channel import EmailChannel
from app.notifications.transport import ConsoleTransport, SmtpTransport, transport_for
from app.webhooks.channel import WebhookChannel
from app.worker.relay import Worker
from tests.conftest import make_settings, production_settings
from tests.receivers import Receiver, serve
from tests.smtp import free_port, smtp_server, text_of


def worker_with(app, port, transport=None):
    settings = make_settings(
        worker_concurrency=1,
        mail_transport="smtp",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=False,
        smtp_timeout_seconds=2,
    )
    client = outbound_client(["127.0.0.1"], 2.0)
    mail = EmailChannel(app.state.sessionmaker, settings, transport or SmtpTransport(settings))
    channels = [WebhookChannel(client), mail]
    return Worker(app.state.sessionmaker, settings, channels, rng=random.Random(3)), client


async def disable_a_subscription(client, factory, worker):
    """A receiver answering 410 disables its subscription: admins are told by e-mail."""
    receiver = Receiver(default=410)
    async with serve(receiver.app()) as base:
        admin = await factory.member("admin", email="ops@example.com", full_name="Olga Ops")
        response = await client.post(
            "/api/v1/webhooks",
            headers=admin.headers,
            json={"url": f"{base}/hook", "event_types": ["member.updated"]},
        )
        await client.patch("/api/v1/me", headers=admin.headers, json={"city": "Kazan"})
        await worker.run_once()  # the webhook fails with 410, the subscription is disabled
    return admin, response.json()


async def emails(db):
    db.expire_all()
    return list((await db.execute(select(Delivery).where(Delivery.channel == "email"))).scalars())


async def test_admins_are_told_in_their_language(client, factory, db, app, mail):
    mailbox, port = mail
    worker, http = worker_with(app, port)
    english = await factory.member(
        "admin", email="en@example.com", full_name="Emma Admin", language="en"
    )
    await factory.member("member", email="plain@example.com")  # not an admin: not told
    admin, subscription = await disable_a_subscription(client, factory, worker)
    await worker.run_once()  # fan out the disabled event, send the e-mails
    await http.aclose()

    by_recipient = {m["To"].addresses[0].addr_spec: m for m in mailbox.messages}
    assert set(by_recipient) == {"en@example.com", "ops@example.com"}
    ru = by_recipient["ops@example.com"]
    assert ru["Subject"] == f"Вебхук отключён: {subscription['url']}"
    assert "Здравствуйте, Olga Ops!" in text_of(ru)
    assert "gone" in text_of(ru) and subscription["id"] in text_of(ru)
    en = by_recipient["en@example.com"]
    assert en["Subject"].startswith("Webhook disabled") and "Hello Emma Admin" in text_of(en)
    assert en["Content-Language"] == "en"
    sent = await emails(db)
    assert sorted(d.status for d in sent) == ["succeeded", "succeeded"]
    assert {d.recipient_id for d in sent} == {english.id, admin.id}
    assert {m["Message-ID"] for m in mailbox.messages} == {
        f"<{d.id.hex}@digital-leaders.invalid>" for d in sent
    }


async def test_refused_recipient_is_not_retried_and_a_deferral_is(client, factory, db, app, mail):
    mailbox, port = mail
    mailbox.refuse = {
        "ops@example.com": "550 5.1.1 no such user",
        "later@example.com": "451 4.3.0 try again later",
    }
    worker, http = worker_with(app, port)
    await factory.member("admin", email="later@example.com")
    await disable_a_subscription(client, factory, worker)
    await worker.run_once()
    await http.aclose()
    by_error = {d.last_error: d.status for d in await emails(db)}
    assert by_error == {
        "recipient refused ([550])": "failed",
        "recipient deferred ([451])": "pending",
    }
    assert mailbox.messages == []


@pytest.mark.parametrize("smtputf8", [True, False])
async def test_non_ascii_addresses_travel_as_smtputf8(client, factory, db, app, smtputf8):
    """Signup accepts anna.müller@…: such a message needs SMTPUTF8. A server that offers it
    gets it; one that does not refuses it for good, so it is not retried forever."""
    with smtp_server(smtputf8=smtputf8) as (mailbox, port):
        worker, http = worker_with(app, port)
        await factory.member("admin", email="anna.müller@пример.рф", full_name="Анна Мюллер")
        await disable_a_subscription(client, factory, worker)
        await worker.run_once()
        await http.aclose()
    by_error = {d.last_error: d.status for d in await emails(db)}
    received = {m["To"].addresses[0].addr_spec for m in mailbox.messages}
    if smtputf8:
        assert received == {"anna.müller@пример.рф", "ops@example.com"}
        assert by_error == {None: "succeeded"}
        [anna] = [m for m in mailbox.messages if m["To"].addresses[0].username == "anna.müller"]
        assert anna["To"].addresses[0].display_name == "Анна Мюллер"
    else:
        assert received == {"ops@example.com"}
        assert by_error.pop(None) == "succeeded"
        [(error, status)] = by_error.items()
        assert status == "failed" and error.startswith("SMTP server: ") and "SMTPUTF8" in error


async def test_server_down_is_retried_later(client, factory, db, app):
    worker, http = worker_with(app, free_port())  # nothing listens there
    await disable_a_subscription(client, factory, worker)
    await worker.run_once()
    [delivery] = await emails(db)
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.next_attempt_at > datetime.now(UTC)

    with smtp_server() as (mailbox, port):
        worker.channels["email"].transport.settings = make_settings(
            smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False
        )
        await db.execute(update(Delivery).values(next_attempt_at=datetime.now(UTC)))
        await worker.run_once()
    await http.aclose()
    [delivery] = await emails(db)
    assert delivery.status == "succeeded" and len(mailbox.messages) == 1


async def test_erased_recipient_gets_nothing(client, factory, db, app, mail):
    from app.worker import relay

    mailbox, port = mail
    worker, http = worker_with(app, port)
    admin, _ = await disable_a_subscription(client, factory, worker)
    async with app.state.sessionmaker() as session:  # fan out, but do not send yet
        await relay.fan_out(session, list(worker.channels.values()), 10)
        await session.commit()
    await db.execute(
        update(Member).where(Member.id == admin.id).values(erased_at=datetime.now(UTC))
    )
    await worker.run_once()
    await http.aclose()
    [delivery] = await emails(db)
    assert (delivery.status, delivery.last_error) == ("failed", "recipient erased")
    assert mailbox.messages == []


async def test_console_transport_logs(client, factory, db, app, caplog):
    worker, http = worker_with(app, free_port(), transport=ConsoleTransport())
    await disable_a_subscription(client, factory, worker)
    with caplog.at_level(logging.INFO, logger="app.notifications"):
        await worker.run_once()
    await http.aclose()
    assert "e-mail to Olga Ops <ops@example.com>: Вебхук отключён" in caplog.text


async def test_console_transport_in_production_logs_no_address_and_no_body(
    client, factory, db, app, caplog
):
    # Production refuses the console transport at start; if it were used all the same, it
    # would still keep addresses and bodies out of the log.
    assert isinstance(transport_for(production_settings()), SmtpTransport)
    transport = ConsoleTransport(redact=True)
    worker, http = worker_with(app, free_port(), transport=transport)
    await disable_a_subscription(client, factory, worker)
    with caplog.at_level(logging.INFO, logger="app.notifications"):
        await worker.run_once()
    await http.aclose()
    assert "e-mail not sent (console transport): Вебхук отключён" in caplog.text
    assert "ops@example.com" not in caplog.text and "Olga" not in caplog.text


async def test_language_is_part_of_my_profile(client, factory, db):
    member = await factory.member("member")
    response = await client.patch("/api/v1/me", headers=member.headers, json={"language": "en"})
    assert response.status_code == 200 and response.json()["language"] == "en"
    for bad in ({"language": None}, {"language": "de"}):
        refused = await client.patch("/api/v1/me", headers=member.headers, json=bad)
        assert refused.status_code == 422
    row = await db.get(Member, member.id)
    await db.refresh(row)
    assert row.language == "en"


@pytest.mark.parametrize(
    "status,subject,phrase",
    [
        ("approved", "Welcome to the Digital Leaders community", "you are now a member"),
        ("rejected", "The decision on your Digital Leaders application", "Reason: Too early"),
        ("waitlisted", "Your application is on the waiting list", "waiting list"),
    ],
)
async def test_applicant_hears_the_decision(
    client, factory, db, app, mail, status, subject, phrase
):
    from tests.applications.helpers import submitted

    mailbox, port = mail
    worker, http = worker_with(app, port)
    admin = await factory.member("admin")
    applicant, application, _ = await submitted(
        client,
        factory,
        email="anna@example.com",
        full_name="Anna Petrova",
        language="en",
        password_hash="$argon2id$she-signed-up-herself",
    )
    decided = await client.post(
        f"/api/v1/applications/{application['id']}/decision",
        headers=admin.headers,
        json={"status": status, "reason": "Too early in career"},
    )
    assert decided.status_code == 200, decided.text
    await worker.run_once()
    await http.aclose()
    [message] = [
        m for m in mailbox.messages if m["To"].addresses[0].addr_spec == "anna@example.com"
    ]
    assert message["Subject"] == subject
    assert phrase in text_of(message) and "Hello Anna Petrova" in text_of(message)
    # Reviewers' opinions never reach the applicant.
    assert "Solid track record" not in text_of(message)


async def test_approved_without_a_password_gets_the_invitation_instead(
    client, factory, db, app, mail
):
    """An approved person who never set a password (imported) gets one e-mail: the invitation
    with its set-password link, not a welcome that asks them to sign in."""
    from tests.applications.helpers import submitted

    mailbox, port = mail
    worker, http = worker_with(app, port)
    admin = await factory.member("admin")
    _, application, _ = await submitted(
        client, factory, email="boris@example.com", full_name="Boris", language="en"
    )
    await client.post(
        f"/api/v1/applications/{application['id']}/decision",
        headers=admin.headers,
        json={"status": "approved", "reason": "strong"},
    )
    await worker.run_once()
    await http.aclose()
    [message] = [
        m for m in mailbox.messages if m["To"].addresses[0].addr_spec == "boris@example.com"
    ]
    assert message["Subject"] == "Your place in the Digital Leaders community: set your password"
    assert "/accept-invitation?token=" in text_of(message)
    assert "The link works once, until" in text_of(message)


async def test_registration_mails_a_single_use_confirmation_link(client, factory, db, app, mail):
    from urllib.parse import parse_qs, urlsplit

    from tests.events.helpers import open_event, register

    mailbox, port = mail
    worker, http = worker_with(app, port)
    admin = await factory.member("admin")
    member = await factory.member("member", email="ivan@example.com", full_name="Ivan Orlov")
    event = await open_event(client, admin, title="Board #2")
    created = await register(client, member, event["id"])
    await worker.run_once()
    await http.aclose()
    [message] = mailbox.messages
    assert message["Subject"] == "Подтвердите участие: Board #2"
    link = next(line for line in text_of(message).splitlines() if "token=" in line)
    assert link.startswith("http://127.0.0.1:8000/registrations/confirm?token=")
    token = parse_qs(urlsplit(link).query)["token"][0]
    used = await client.post("/api/v1/registrations/confirm-link", json={"token": token})
    assert used.status_code == 200 and used.json()["id"] == created["id"]
    assert used.json()["status"] == "confirmed"
    again = await client.post("/api/v1/registrations/confirm-link", json={"token": token})
    assert again.status_code == 409


async def test_a_freed_seat_is_offered_by_mail(client, factory, db, app, mail):
    from tests.events.helpers import confirm, open_event, register

    mailbox, port = mail
    worker, http = worker_with(app, port)
    admin = await factory.member("admin")
    holder = await factory.member("member")
    waiting = await factory.member("member", email="next@example.com", language="en")
    event = await open_event(client, admin, seats=1, title="Board #3")
    first = await register(client, holder, event["id"])
    await confirm(client, holder, first["id"])
    second = await register(client, waiting, event["id"])
    await confirm(client, waiting, second["id"])
    await worker.run_once()  # the two confirmation links go out (and are no longer needed)
    mailbox.messages.clear()
    await client.post(f"/api/v1/registrations/{first['id']}/cancel", headers=holder.headers)
    await worker.run_once()
    await http.aclose()
    # The holder hears their cancellation; the next in line hears the offer, and only that.
    [offer] = [m for m in mailbox.messages if m["To"].addresses[0].addr_spec == "next@example.com"]
    assert offer["Subject"] == "A seat is free for you: Board #3"
    assert f"/registrations/{second['id']}" in text_of(offer)


async def test_seated_members_hear_their_table_is_ready(client, factory, db, app, mail):
    from tests.tables.helpers import attend, seated_event

    mailbox, port = mail
    worker, http = worker_with(app, port)
    admin = await factory.member("admin")
    event, actors = await seated_event(client, db, factory, admin, 7, title="Board #4")
    english = await factory.member("member", email="table@example.com", language="en")
    await attend(db, event["id"], english)
    await factory.member("member", email="outsider@example.com")  # not at the event
    assert (
        await client.post(
            f"/api/v1/events/{event['id']}/seating", headers=admin.headers, json={"seed": 1}
        )
    ).status_code == 201
    await worker.run_once()
    assert mailbox.messages == []  # a draft mails nobody
    assert (
        await client.post(f"/api/v1/events/{event['id']}/seating/publish", headers=admin.headers)
    ).status_code == 200
    await worker.run_once()
    await http.aclose()
    recipients = {m["To"].addresses[0].addr_spec for m in mailbox.messages}
    assert len(mailbox.messages) == 8 and "outsider@example.com" not in recipients
    assert {a.member.email for a in actors} | {"table@example.com"} == recipients
    mine = next(
        m for m in mailbox.messages if m["To"].addresses[0].addr_spec == "table@example.com"
    )
    assert mine["Subject"] == 'Your table at "Board #4"'
    assert f"/events/{event['id']}/my-table" in text_of(mine)
