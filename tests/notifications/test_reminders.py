"""Reminders before an event, with a controlled clock; preferences; one-click unsubscribe."""

import uuid
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import select, update

from app.models.notification import RegistrationReminder
from app.models.registration import Registration
from app.registrations import service as registrations_service
from app.worker.schedule import JOBS
from tests.conftest import make_settings, outbox_events
from tests.events.helpers import confirm, open_event, register
from tests.notifications.test_email import worker_with
from tests.notifications.test_registration_mails import STARTS, WHEN, ics, to
from tests.problems import assert_problem
from tests.smtp import text_of

TWO_DAYS, THREE_HOURS = STARTS - timedelta(days=2), STARTS - timedelta(hours=3)


async def remind(db, now):
    sent = await registrations_service.send_reminders(db, make_settings(), now)
    await db.flush()
    return sent


async def coming(client, factory, admin, event, **fields):
    actor = await factory.member("member", **fields)
    registration = await register(client, actor, event["id"])
    await confirm(client, actor, registration["id"])
    return actor, registration


def test_the_job_runs_often_enough_to_remind_within_a_minute():
    [job] = [j for j in JOBS if j.name == "send_event_reminders"]
    assert job.every <= timedelta(seconds=30)  # plus one 15 s tick: under a minute


async def test_reminders_at_each_offset_once_and_not_for_a_moment_before_confirming(
    client, factory, db, app, mail
):
    mailbox, port = mail
    worker, http = worker_with(app, port)
    admin = await factory.member("admin")
    event = await open_event(client, admin, title="Board 11", **WHEN)
    early, early_reg = await coming(client, factory, admin, event, email="early@example.com")
    late, late_reg = await coming(
        client, factory, admin, event, email="late@example.com", language="en"
    )
    # Late confirmed a day before the event: the two-day reminder's moment had passed.
    await db.execute(
        update(Registration)
        .where(Registration.id == uuid.UUID(late_reg["id"]))
        .values(confirmed_at=STARTS - timedelta(days=1))
    )
    await worker.run_once()
    mailbox.messages.clear()

    assert await remind(db, TWO_DAYS - timedelta(seconds=30)) == 0  # not yet
    assert await remind(db, TWO_DAYS + timedelta(seconds=20)) == 1  # due: early only
    assert await remind(db, TWO_DAYS + timedelta(minutes=5)) == 0  # once per offset
    [due] = await outbox_events(db, "registration.reminder_due")
    assert due.data["offset_minutes"] == 2880 and str(due.subject_id) == early_reg["id"]
    await worker.run_once()
    [reminder] = mailbox.messages
    assert reminder["To"].addresses[0].addr_spec == "early@example.com"
    assert reminder["Subject"] == (
        "Напоминание: Board 11, 13 февраля 2027, 10:00 (Москва, GMT+03:00)"
    )
    body = text_of(reminder)
    assert "Где: Loft, Moscow" in body
    assert f"http://127.0.0.1:8000/registrations/{early_reg['id']}" in body  # to cancel
    calendar, entry = ics(reminder)
    assert str(entry["UID"]) == f"registration-{early_reg['id']}@digital-leaders.invalid"
    assert reminder["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert reminder["List-Unsubscribe"].startswith(
        "<http://127.0.0.1:8000/api/v1/notifications/unsubscribe?token="
    )

    assert await remind(db, THREE_HOURS + timedelta(seconds=5)) == 2  # both, once each
    assert await remind(db, THREE_HOURS + timedelta(seconds=50)) == 0
    await worker.run_once()
    await http.aclose()
    assert len(to(mailbox, "early@example.com")) == 2
    [late_reminder] = to(mailbox, "late@example.com")
    assert late_reminder["Subject"] == (
        "A reminder: Board 11, 13 February 2027, 10:00 (Moscow, GMT+03:00)"
    )
    rows = (await db.execute(select(RegistrationReminder))).scalars().all()
    assert sorted((str(r.registration_id), r.offset_minutes) for r in rows) == sorted(
        [(early_reg["id"], 2880), (early_reg["id"], 180), (late_reg["id"], 180)]
    )
    assert early and late


async def test_a_worker_that_was_down_sends_only_the_nearest_reminder(client, factory, db):
    admin = await factory.member("admin")
    event = await open_event(client, admin, **WHEN)
    await coming(client, factory, admin, event)
    assert await remind(db, STARTS - timedelta(hours=1)) == 1
    [due] = await outbox_events(db, "registration.reminder_due")
    assert due.data["offset_minutes"] == 180
    assert await remind(db, STARTS - timedelta(minutes=30)) == 0  # the 2-day one is done too
    assert await remind(db, STARTS + timedelta(minutes=1)) == 0  # started: nothing


async def test_an_admin_sets_the_offsets(client, factory, db):
    admin = await factory.member("admin")
    event = await open_event(client, admin, **WHEN)
    assert event["reminder_offsets_minutes"] == [2880, 180]
    changed = await client.patch(
        f"/api/v1/events/{event['id']}",
        headers=admin.headers,
        json={"reminder_offsets_minutes": [60, 1440, 60]},
    )
    assert changed.status_code == 200 and changed.json()["reminder_offsets_minutes"] == [1440, 60]
    for bad in ([1], [60] * 6, None, ["soon"]):
        refused = await client.patch(
            f"/api/v1/events/{event['id']}",
            headers=admin.headers,
            json={"reminder_offsets_minutes": bad},
        )
        assert refused.status_code == 422, (bad, refused.text)
        assert_problem(refused)
    await coming(client, factory, admin, event)
    assert await remind(db, STARTS - timedelta(hours=3)) == 1  # the day before
    assert await remind(db, STARTS - timedelta(hours=2)) == 0  # 3 hours is no offset any more
    assert await remind(db, STARTS - timedelta(minutes=59)) == 1
    sent = [
        row.data["offset_minutes"] for row in await outbox_events(db, "registration.reminder_due")
    ]
    assert sent == [1440, 60]


async def test_one_click_unsubscribe_turns_the_kind_off(client, factory, db, app, mail):
    mailbox, port = mail
    worker, http = worker_with(app, port)
    admin = await factory.member("admin")
    event = await open_event(client, admin, **WHEN)
    anna, _ = await coming(client, factory, admin, event, email="anna@example.com")
    other, _ = await coming(client, factory, admin, event, email="other@example.com")
    await remind(db, TWO_DAYS)
    await worker.run_once()
    [reminder] = [m for m in to(mailbox, "anna@example.com") if "Напоминание" in m["Subject"]]
    url = urlsplit(reminder["List-Unsubscribe"].strip("<>"))

    # What a mail program does (RFC 8058): POST the form field, no cookie, no sign-in.
    response = await client.post(
        f"{url.path}?{url.query}",
        content="List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "kind": "reminders",
        "preferences": {
            "transactional": True,
            "reminders": False,
            "next_event": True,
            "messages": True,
            "surveys": True,
        },
    }
    again = await client.post(f"{url.path}?{url.query}")  # a replay changes nothing
    assert again.status_code == 200 and again.json()["preferences"]["reminders"] is False
    mine = await client.get("/api/v1/me/notifications", headers=anna.headers)
    assert mine.json()["reminders"] is False
    theirs = await client.get("/api/v1/me/notifications", headers=other.headers)
    assert theirs.json()["reminders"] is True  # only the link's owner

    mailbox.messages.clear()
    await remind(db, THREE_HOURS)
    await worker.run_once()
    await http.aclose()
    assert [m["To"].addresses[0].addr_spec for m in mailbox.messages] == ["other@example.com"]


async def test_forged_and_foreign_tokens_are_refused(client, factory, db):
    from app.members.service import unsubscribe_token
    from app.models.notification import NotificationKind

    member = await factory.member("member")
    settings = make_settings()
    good = unsubscribe_token(settings, member.id, NotificationKind.reminders)
    value, _, mac = good.rpartition(".")
    forged = [
        f"{member.id}:surveys.{mac}",  # another kind with this MAC
        f"{value}.{mac[:-2]}AA",
        f"{member.id}:transactional.{mac}",
        "nonsense",
        unsubscribe_token(make_settings(jwt_secret="x" * 64), member.id, NotificationKind.surveys),
    ]
    for token in forged:
        refused = await client.post("/api/v1/notifications/unsubscribe", params={"token": token})
        assert refused.status_code == 400, (token, refused.text)
        assert_problem(refused)
        assert refused.json()["type"] == "/problems/invalid-link"
    untouched = await client.get("/api/v1/me/notifications", headers=member.headers)
    assert untouched.json()["surveys"] is True and untouched.json()["reminders"] is True


async def test_preferences_through_the_api(client, factory, db):
    member = await factory.member("member")
    got = await client.get("/api/v1/me/notifications", headers=member.headers)
    assert got.status_code == 200 and set(got.json().values()) == {True}
    put = await client.put(
        "/api/v1/me/notifications",
        headers=member.headers,
        json={"surveys": False, "messages": False},
    )
    assert put.status_code == 200
    assert put.json() == {
        "transactional": True,
        "reminders": True,
        "next_event": True,
        "messages": False,
        "surveys": False,
    }
    for bad in ({"transactional": False}, {"surveys": "maybe"}, {"colour": True}):
        refused = await client.put("/api/v1/me/notifications", headers=member.headers, json=bad)
        assert refused.status_code == 422, bad
        assert_problem(refused)
    back = await client.put(
        "/api/v1/me/notifications", headers=member.headers, json={"surveys": True}
    )
    assert back.json()["surveys"] is True and back.json()["messages"] is False


async def test_authors_are_asked_for_the_outcome_two_weeks_after(client, factory, db, app, mail):
    from app.cases import service as cases_service
    from app.models.case import Case
    from app.models.event import Event

    mailbox, port = mail
    worker, http = worker_with(app, port)
    admin = await factory.member("admin")
    author = await factory.member("member", email="author@example.com", language="en")
    reported = await factory.member("member", email="reported@example.com")
    event = await open_event(client, admin, title="Board 14")
    ended = STARTS - timedelta(days=30)
    await db.execute(
        update(Event)
        .where(Event.id == uuid.UUID(event["id"]))
        .values(starts_at=ended - timedelta(hours=4), ends_at=ended)
    )
    for who, status in ((author, "discussed"), (reported, "outcome_reported")):
        db.add(
            Case(
                event_id=uuid.UUID(event["id"]),
                author_id=who.id,
                title=f"Pricing for {status}",
                context="c",
                question="q",
                good_outcome="g",
                status=status,
            )
        )
    await db.flush()
    settings = make_settings()
    assert await cases_service.request_outcomes(db, settings, ended + timedelta(days=13)) == 0
    assert (
        await cases_service.request_outcomes(db, settings, ended + timedelta(days=14, minutes=1))
        == 1
    )
    assert await cases_service.request_outcomes(db, settings, ended + timedelta(days=20)) == 0
    await db.flush()
    await worker.run_once()
    await http.aclose()
    [asked] = mailbox.messages
    assert asked["To"].addresses[0].addr_spec == "author@example.com"
    assert asked["Subject"] == 'What came of your case "Pricing for discussed"?'
    assert "/cases/" in text_of(asked) and text_of(asked).count("/outcome") == 1
    assert asked["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


async def test_the_next_meeting_is_announced_once_to_whoever_asked(client, factory, db, app, mail):
    from tests.events.helpers import create_event, move

    mailbox, port = mail
    worker, http = worker_with(app, port)
    admin = await factory.member("admin")
    asked = await factory.member("member", email="asked@example.com", language="en")
    muted = await factory.member("member", email="muted@example.com")
    await factory.member("member", email="silent@example.com")  # never asked
    for who in (asked, muted):
        response = await client.post("/api/v1/me/next-event-notice", headers=who.headers)
        assert response.status_code == 200 and response.json()["notified"] is False
    again = await client.post("/api/v1/me/next-event-notice", headers=asked.headers)
    assert again.status_code == 200  # asking twice is one request
    await client.put("/api/v1/me/notifications", headers=muted.headers, json={"next_event": False})

    event = await create_event(client, admin, title="Board 15", **WHEN)
    await move(client, admin, event["id"], "published")
    await worker.run_once()
    assert mailbox.messages == []  # published is not open
    await move(client, admin, event["id"], "registration_open")
    await worker.run_once()
    [notice] = mailbox.messages
    assert notice["To"].addresses[0].addr_spec == "asked@example.com"
    assert notice["Subject"] == "Registration is open: Board 15"
    assert f"/events/{event['id']}" in text_of(notice)
    assert notice["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # Another opening later: the request was answered, nobody hears twice.
    other = await open_event(client, admin, title="Board 16")
    await worker.run_once()
    await http.aclose()
    assert len(mailbox.messages) == 1 and other
    left = await client.delete("/api/v1/me/next-event-notice", headers=asked.headers)
    assert left.status_code == 204
