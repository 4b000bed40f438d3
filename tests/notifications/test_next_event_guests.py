"""The next meeting for people without an account: a link proves the address, the next
opening e-mails it once, and one click takes it off the list; hostile tokens change nothing."""

import asyncio
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from app.models.notification import NextEventGuest
from app.models.outbox import OutboxEvent
from tests.conftest import IS_POSTGRES
from tests.events.helpers import create_event, move, open_event
from tests.notifications.test_email import worker_with
from tests.notifications.test_registration_mails import WHEN
from tests.problems import assert_problem
from tests.smtp import text_of

URL = "/api/v1/public/next-event-notice"


def _token_in(message, path: str) -> str:
    for word in text_of(message).split():
        if path in word:
            return parse_qs(urlsplit(word).query)["token"][0]
    raise AssertionError(f"no {path} link in {text_of(message)!r}")


async def _guests(db) -> list[NextEventGuest]:
    db.expire_all()
    return list((await db.execute(select(NextEventGuest))).scalars())


async def test_a_guest_confirms_hears_once_and_unsubscribes(client, factory, db, app, mail):
    mailbox, port = mail
    worker, http = worker_with(app, port)
    admin = await factory.member("admin")

    asked = await client.post(URL, json={"email": "Guest@Example.com", "language": "en"})
    assert asked.status_code == 202, asked.text
    assert asked.json()["status"] == "accepted"
    await worker.run_once()
    [confirm_mail] = mailbox.messages
    assert confirm_mail["To"].addresses[0].addr_spec == "Guest@example.com"
    assert confirm_mail["Subject"] == "Confirm your address: the next Digital Leaders meeting"
    assert confirm_mail["Content-Language"] == "en"
    assert confirm_mail["List-Unsubscribe"] is None  # transactional: it only proves the address
    token = _token_in(confirm_mail, "/next-meeting/confirm")

    # Not confirmed yet: an opening now tells the guest nothing.
    early = await open_event(client, admin, title="Board 20")
    await worker.run_once()
    assert len(mailbox.messages) == 1 and early

    confirmed = await client.post(f"{URL}/confirm", json={"token": token})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["email"] == "Guest@example.com"
    again = await client.post(f"{URL}/confirm", json={"token": token})
    assert again.json()["verified_at"] == confirmed.json()["verified_at"]  # changes nothing

    # On the list: a second request sends no second link.
    await client.post(URL, json={"email": "guest@example.com"})
    await worker.run_once()
    assert len(mailbox.messages) == 1

    event = await create_event(client, admin, title="Board 21", **WHEN)
    await move(client, admin, event["id"], "published")
    await move(client, admin, event["id"], "registration_open")
    await worker.run_once()
    [_, opened] = mailbox.messages
    assert opened["To"].addresses[0].addr_spec == "Guest@example.com"
    assert opened["Subject"] == "Registration is open: Board 21"
    assert f"/events/{event['id']}" in text_of(opened)
    assert opened["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [guest] = await _guests(db)
    assert str(guest.notified_event_id) == event["id"]

    # Once per opening: another one later mails nobody.
    await open_event(client, admin, title="Board 22")
    await worker.run_once()
    assert len(mailbox.messages) == 2

    unsubscribe = urlsplit(opened["List-Unsubscribe"].strip("<>"))
    assert unsubscribe.path == f"{URL}/unsubscribe"
    gone = await client.post(
        f"{unsubscribe.path}?{unsubscribe.query}",
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert gone.status_code == 204, gone.text
    assert await _guests(db) == []
    twice = await client.post(f"{unsubscribe.path}?{unsubscribe.query}")
    assert twice.status_code == 204
    await http.aclose()


async def test_the_answer_is_the_same_and_forged_tokens_change_nothing(client, db, app, mail):
    mailbox, port = mail
    worker, http = worker_with(app, port)
    first = await client.post(URL, json={"email": "someone@example.com"})
    await worker.run_once()
    second = await client.post(URL, json={"email": "someone@example.com"})
    assert first.json() == second.json() and second.status_code == 202
    await worker.run_once()
    # Asking again before confirming replaces the link: the first one no longer works.
    [old, new] = mailbox.messages
    old_token = _token_in(old, "/next-meeting/confirm")
    refused = await client.post(f"{URL}/confirm", json={"token": old_token})
    assert refused.status_code == 400
    assert_problem(refused)
    assert refused.json()["type"] == "/problems/invalid-link"
    new_token = _token_in(new, "/next-meeting/confirm")
    [guest] = await _guests(db)
    for forged in (
        new_token[:-2] + "xx",
        f"{guest.id}:0.AAAA",
        "not-a-token",
    ):
        response = await client.post(f"{URL}/confirm", json={"token": forged})
        assert response.status_code == 400, (forged, response.text)
        assert_problem(response)
    # An unsubscribe token is not a confirmation, and the reverse.
    response = await client.post(f"{URL}/unsubscribe", params={"token": new_token})
    assert response.status_code == 400
    [still] = await _guests(db)
    assert still.verified_at is None
    bad = await client.post(URL, json={"email": "not an address"})
    assert bad.status_code == 422
    assert_problem(bad)
    await http.aclose()


@pytest.mark.skipif(not IS_POSTGRES, reason="races are proven on PostgreSQL")
async def test_simultaneous_requests_for_one_address_make_one_row(live, engine):
    answers = await asyncio.gather(
        *(live.post(URL, json={"email": "racer@example.org"}) for _ in range(6))
    )
    assert [a.status_code for a in answers] == [202] * 6, [a.text for a in answers]
    async with engine.connect() as connection:
        rows = await connection.scalar(select(func.count()).select_from(NextEventGuest))
        asked = await connection.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.type == "next_event.guest_asked")
        )
    assert rows == 1 and 1 <= asked <= 6
