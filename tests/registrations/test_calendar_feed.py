"""The personal calendar feed: its URL, what it serves (parsed back with icalendar), rotation
and revocation."""

from urllib.parse import urlsplit

from icalendar import Calendar

from app.models.notification import CalendarFeed
from tests.events.helpers import confirm, create_event, open_event, register
from tests.problems import assert_problem


def path_of(url: str) -> str:
    return urlsplit(url).path


async def test_the_feed_holds_my_places_and_the_community_events(client, factory, db):
    admin = await factory.member("admin")
    anna = await factory.member("member")
    other = await factory.member("member")
    mine = await open_event(client, admin, title="Board 12")
    theirs = await open_event(client, admin, title="Board 13")
    await create_event(client, admin, title="Draft board")  # a draft: in nobody's feed
    seat = await register(client, anna, mine["id"])
    await confirm(client, anna, seat["id"])
    other_seat = await register(client, other, theirs["id"])
    await confirm(client, other, other_seat["id"])

    got = await client.get("/api/v1/me/calendar-feed", headers=anna.headers)
    assert got.status_code == 200 and got.headers["cache-control"] == "no-store"
    url = got.json()["url"]
    assert url.startswith("http://127.0.0.1:8000/api/v1/calendar/") and url.endswith(".ics")
    again = await client.get("/api/v1/me/calendar-feed", headers=anna.headers)
    assert again.json()["url"] == url  # the same URL until rotated
    row = await db.get(CalendarFeed, anna.id)
    token = path_of(url).rsplit("/", 1)[1].removesuffix(".ics")
    assert row is not None and token not in row.token_digest  # only the digest is stored

    feed = await client.get(path_of(url))  # no sign-in: the URL is the secret
    assert feed.status_code == 200
    assert feed.headers["content-type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(feed.content)
    entries = {str(e["SUMMARY"]): e for e in calendar.walk("VEVENT")}
    assert set(entries) == {"Board 12", "Board 13"}
    assert str(entries["Board 12"]["UID"]) == f"registration-{seat['id']}@digital-leaders.invalid"
    assert str(entries["Board 13"]["UID"]) == f"event-{theirs['id']}@digital-leaders.invalid"
    assert str(entries["Board 12"]["LOCATION"]) == "Loft, Moscow"
    assert other_seat["id"] not in feed.text  # nobody else's places


async def test_rotating_and_revoking_end_the_old_url(client, factory, db):
    member = await factory.member("member")
    first = (await client.get("/api/v1/me/calendar-feed", headers=member.headers)).json()["url"]
    rotated = await client.post("/api/v1/me/calendar-feed/rotate", headers=member.headers)
    assert rotated.status_code == 200
    second = rotated.json()["url"]
    assert second != first
    gone = await client.get(path_of(first))
    assert gone.status_code == 404
    assert_problem(gone)
    assert (await client.get(path_of(second))).status_code == 200

    revoked = await client.delete("/api/v1/me/calendar-feed", headers=member.headers)
    assert revoked.status_code == 204
    assert (await client.get(path_of(second))).status_code == 404
    assert await db.get(CalendarFeed, member.id) is None
    fresh = (await client.get("/api/v1/me/calendar-feed", headers=member.headers)).json()["url"]
    assert fresh not in (first, second)


async def test_made_up_tokens_are_not_found_and_applicants_have_no_feed(client, factory):
    for token in ("A" * 43, "x" * 42):
        response = await client.get(f"/api/v1/calendar/{token}.ics")
        assert response.status_code == (404 if len(token) == 43 else 422)
        assert_problem(response)
    applicant = await factory.member("applicant")
    refused = await client.get("/api/v1/me/calendar-feed", headers=applicant.headers)
    assert refused.status_code == 403
    assert_problem(refused)
