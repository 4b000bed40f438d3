"""A place's whole story by e-mail, through HTTP and the worker to a real SMTP server: who
hears what, in which language and on which clock, with which calendar entry, and only once."""

from collections import Counter
from datetime import UTC, datetime, timedelta

from icalendar import Calendar
from sqlalchemy import select

from app.models.webhook import Delivery
from app.registrations import service as registrations_service
from tests.conftest import make_settings
from tests.events.helpers import confirm, open_event, register
from tests.notifications.test_email import worker_with
from tests.smtp import calendar_of, html_of, text_of

STARTS = datetime(2027, 2, 13, 7, 0, tzinfo=UTC)  # 10:00 in Moscow, a Saturday
WHEN = {"starts_at": STARTS.isoformat(), "ends_at": (STARTS + timedelta(hours=4)).isoformat()}


def to(mailbox, address):
    return [m for m in mailbox.messages if m["To"].addresses[0].addr_spec == address]


def ics(message):
    raw = calendar_of(message)
    assert raw is not None, f"no calendar in {message['Subject']}"
    calendar = Calendar.from_ical(raw)
    [entry] = calendar.walk("VEVENT")
    return calendar, entry


async def email_deliveries(db):
    db.expire_all()
    rows = await db.execute(select(Delivery).where(Delivery.channel == "email"))
    return list(rows.scalars())


async def test_a_place_from_registration_to_a_lapsed_offer(client, factory, db, app, mail):
    mailbox, port = mail
    worker, http = worker_with(app, port)
    admin = await factory.member("admin")
    anna = await factory.member("member", email="anna@example.com", full_name="Anna Petrova")
    boris = await factory.member(
        "member", email="boris@example.com", full_name="Boris Ivanov", language="en"
    )
    bystander = await factory.member("member", email="bystander@example.com")
    confirm_by = STARTS - timedelta(days=2)
    event = await open_event(
        client, admin, seats=1, title="Board 7", confirm_by=confirm_by.isoformat(), **WHEN
    )

    first = await register(client, anna, event["id"])
    await worker.run_once()
    [created] = to(mailbox, "anna@example.com")
    assert created["Subject"] == "Подтвердите участие: Board 7"
    assert created["Content-Language"] == "ru"
    body = text_of(created)
    assert "Здравствуйте, Anna Petrova!" in body
    assert "Когда: суббота, 13 февраля 2027, 10:00 (Москва, GMT+03:00)" in body
    assert "до 11 февраля 2027, 10:00 (Москва, GMT+03:00), иначе регистрация будет снята" in body
    assert "Где: Loft, Moscow" in body
    assert "/registrations/confirm?token=" in body and "List-Unsubscribe" not in created
    assert 'href="http://127.0.0.1:8000/registrations/confirm?token=' in html_of(created)

    await confirm(client, anna, first["id"])
    await worker.run_once()
    [_, confirmed] = to(mailbox, "anna@example.com")
    assert confirmed["Subject"] == "Ваше место подтверждено: Board 7"
    calendar, entry = ics(confirmed)
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(entry["UID"]) == f"registration-{first['id']}@digital-leaders.invalid"
    assert entry.decoded("DTSTART") == STARTS and str(entry["SUMMARY"]) == "Board 7"
    assert str(entry["LOCATION"]) == "Loft, Moscow"
    first_sequence = int(entry["SEQUENCE"])

    second = await register(client, boris, event["id"])
    await confirm(client, boris, second["id"])  # no seat: the waiting list
    await worker.run_once()
    waitlisted = to(mailbox, "boris@example.com")[-1]
    assert waitlisted["Subject"] == "You are on the waiting list: Board 7"
    assert waitlisted["Content-Language"] == "en"
    assert "Your place in the line: 1." in text_of(waitlisted)
    assert "When: Saturday, 13 February 2027, 10:00 (Moscow, GMT+03:00)" in text_of(waitlisted)

    cancelled = await client.post(
        f"/api/v1/registrations/{first['id']}/cancel", headers=anna.headers
    )
    assert cancelled.status_code == 200, cancelled.text
    await worker.run_once()
    gone = to(mailbox, "anna@example.com")[-1]
    assert gone["Subject"] == "Регистрация отменена: Board 7"
    assert "Вы отменили участие" in text_of(gone)
    calendar, entry = ics(gone)
    assert str(calendar["METHOD"]) == "CANCEL" and str(entry["STATUS"]) == "CANCELLED"
    assert str(entry["UID"]) == f"registration-{first['id']}@digital-leaders.invalid"
    assert int(entry["SEQUENCE"]) >= first_sequence
    offer = to(mailbox, "boris@example.com")[-1]
    assert offer["Subject"] == "A seat is free for you: Board 7"

    # Nobody takes the offer: it lapses (the job with a later clock) and Boris hears so.
    later = datetime.now(UTC) + timedelta(days=3)
    assert await registrations_service.expire_offers(db, make_settings(), later) == 1
    await db.flush()
    await worker.run_once()
    await http.aclose()
    lapsed = to(mailbox, "boris@example.com")[-1]
    assert lapsed["Subject"] == "The seat offer has lapsed: Board 7"
    assert "went to the next in line" in text_of(lapsed)

    # Each message once, to its own person only: the delivery log says one per recipient.
    assert to(mailbox, "bystander@example.com") == [] and bystander
    subjects = Counter(m["Subject"] for m in mailbox.messages)
    assert all(count == 1 for count in subjects.values()), subjects
    deliveries = await email_deliveries(db)
    # Boris confirmed before his confirmation request went out: that one was skipped.
    assert len(mailbox.messages) == 6 and len(deliveries) == 7
    assert {d.status for d in deliveries} == {"succeeded"}
    assert Counter((d.event_id, d.recipient_id) for d in deliveries).most_common(1)[0][1] == 1
    await worker.run_once()  # nothing new: nothing sent again
    assert len(mailbox.messages) == 6


async def test_a_released_registration_is_told(client, factory, db, app, mail):
    mailbox, port = mail
    worker, http = worker_with(app, port)
    admin = await factory.member("admin")
    late = await factory.member("member", email="late@example.com", language="en")
    deadline = datetime.now(UTC) + timedelta(days=1)
    event = await open_event(client, admin, title="Board 8", confirm_by=deadline.isoformat())
    await register(client, late, event["id"])
    await registrations_service.release_unconfirmed(
        db, make_settings(), deadline + timedelta(minutes=1)
    )
    await db.flush()
    await worker.run_once()
    await http.aclose()
    # The confirmation request is no longer sent (nothing to confirm); the release is.
    [released] = to(mailbox, "late@example.com")
    assert released["Subject"] == "Registration cancelled: Board 8"
    assert "was not confirmed in time and was released" in text_of(released)
    assert calendar_of(released) is None  # it was never in their calendar


async def test_a_moved_event_tells_its_people_what_changed(client, factory, db, app, mail):
    mailbox, port = mail
    worker, http = worker_with(app, port)
    admin = await factory.member("admin")
    coming = await factory.member("member", email="coming@example.com", language="en")
    waiting = await factory.member("member", email="waiting@example.com")
    left = await factory.member("member", email="left@example.com")
    event = await open_event(client, admin, seats=1, title="Board 9", **WHEN)
    seat = await register(client, coming, event["id"])
    await confirm(client, coming, seat["id"])
    line = await register(client, waiting, event["id"])
    await confirm(client, waiting, line["id"])
    gone = await register(client, left, event["id"])
    await client.post(f"/api/v1/registrations/{gone['id']}/cancel", headers=left.headers)
    await worker.run_once()
    before = to(mailbox, "coming@example.com")[-1]
    sequence_before = int(ics(before)[1]["SEQUENCE"])
    mailbox.messages.clear()

    # Seats and the description change nothing anyone must act on: no e-mail.
    unchanged = await client.patch(
        f"/api/v1/events/{event['id']}", headers=admin.headers, json={"description": "Agenda"}
    )
    assert unchanged.status_code == 200
    await worker.run_once()
    assert mailbox.messages == []

    moved_to = STARTS + timedelta(days=1, hours=2)  # Sunday 12:00 in Moscow
    moved = await client.patch(
        f"/api/v1/events/{event['id']}",
        headers=admin.headers,
        json={
            "starts_at": moved_to.isoformat(),
            "ends_at": (moved_to + timedelta(hours=3)).isoformat(),
            "venue_name": "Hall B",
        },
    )
    assert moved.status_code == 200, moved.text
    await worker.run_once()
    await http.aclose()
    assert sorted(m["To"].addresses[0].addr_spec for m in mailbox.messages) == [
        "coming@example.com",
        "waiting@example.com",
    ]
    [en] = to(mailbox, "coming@example.com")
    assert en["Subject"] == "Meeting changed: Board 9"
    assert "New time: Sunday, 14 February 2027, 12:00 (Moscow, GMT+03:00)" in text_of(en)
    assert "New venue: Hall B, Moscow" in text_of(en)
    _, entry = ics(en)
    assert entry.decoded("DTSTART") == moved_to and str(entry["LOCATION"]) == "Hall B, Moscow"
    assert int(entry["SEQUENCE"]) > sequence_before
    assert str(entry["UID"]) == f"registration-{seat['id']}@digital-leaders.invalid"
    [ru] = to(mailbox, "waiting@example.com")
    assert ru["Subject"] == "Встреча изменилась: Board 9"
    assert "Новое время: воскресенье, 14 февраля 2027, 12:00 (Москва, GMT+03:00)" in text_of(ru)
    assert calendar_of(ru) is None  # not coming (yet): nothing for the calendar


async def test_a_cancelled_event_cancels_the_calendar_entries(client, factory, db, app, mail):
    mailbox, port = mail
    worker, http = worker_with(app, port)
    admin = await factory.member("admin")
    coming = await factory.member("member", email="coming@example.com", language="en")
    pending = await factory.member("member", email="pending@example.com")
    event = await open_event(client, admin, title="Board 10", **WHEN)
    seat = await register(client, coming, event["id"])
    await confirm(client, coming, seat["id"])
    await register(client, pending, event["id"])
    await worker.run_once()
    mailbox.messages.clear()
    response = await client.post(
        f"/api/v1/events/{event['id']}/status", headers=admin.headers, json={"status": "cancelled"}
    )
    assert response.status_code == 200
    await worker.run_once()
    await http.aclose()
    [en] = to(mailbox, "coming@example.com")
    assert en["Subject"] == "Meeting cancelled: Board 10"
    calendar, entry = ics(en)
    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(entry["UID"]) == f"registration-{seat['id']}@digital-leaders.invalid"
    [ru] = to(mailbox, "pending@example.com")
    assert ru["Subject"] == "Встреча отменена: Board 10" and calendar_of(ru) is None
    assert len(mailbox.messages) == 2
