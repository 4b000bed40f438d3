"""Seats and places in line taken beside the confirmation's transaction (PostgreSQL): the event's
row is never held while a confirmation's transaction is open, and a seat taken for a request
that never commits goes back."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core import db as db_module
from app.models.event import Event
from app.models.outbox import OutboxEvent
from app.models.registration import Registration, SeatHold
from app.registrations import repository, service
from tests.conftest import IS_POSTGRES, committed_member, make_settings
from tests.registrations.test_concurrency import open_event

pytestmark = pytest.mark.skipif(not IS_POSTGRES, reason="side statements run on PostgreSQL")


async def register(live, headers, event_id: str) -> str:
    created = await live.post(
        f"/api/v1/events/{event_id}/registrations", headers=headers, json={"source": "ads"}
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def one_registration(live, app, engine, seats: int) -> tuple[str, dict[str, str], str]:
    """An open event of ``seats`` and a member registered for it, still to confirm."""
    _, admin = await committed_member(app, engine, "admin")
    _, member = await committed_member(app, engine)
    event_id = await open_event(live, admin, seats)
    return event_id, member, await register(live, member, event_id)


async def state(engine, event_id: str) -> tuple[int, int, dict[str, str]]:
    """The event's seats held, the holds left, and each registration's status."""
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        event = await session.get(Event, uuid.UUID(event_id))
        holds = await session.scalar(select(func.count()).select_from(SeatHold))
        rows = (
            await session.execute(
                select(Registration.id, Registration.status).where(
                    Registration.event_id == event.id
                )
            )
        ).all()
    return event.seats_held, holds, {str(i): s for i, s in rows}


async def test_a_confirmation_in_flight_holds_up_nobody(live, app, engine, monkeypatch):
    """One confirmation stops after taking its seat, its transaction open (as on a busy event
    loop); meanwhile others confirm for the same event and are answered at once."""
    _, admin = await committed_member(app, engine, "admin")
    people = [(await committed_member(app, engine))[1] for _ in range(4)]
    event_id = await open_event(live, admin, 2)
    ids = [await register(live, h, event_id) for h in people]
    paused, resume = asyncio.Event(), asyncio.Event()
    consume = repository.consume_seat_hold

    async def slow_consume(session: AsyncSession, registration: Registration, *rest) -> bool:
        if str(registration.id) == ids[0]:
            paused.set()
            await resume.wait()
        return await consume(session, registration, *rest)

    monkeypatch.setattr(repository, "consume_seat_hold", slow_consume)
    first = asyncio.create_task(
        live.post(f"/api/v1/registrations/{ids[0]}/confirm", headers=people[0])
    )
    await asyncio.wait_for(paused.wait(), 10)
    others = await asyncio.wait_for(
        asyncio.gather(
            *(
                live.post(f"/api/v1/registrations/{i}/confirm", headers=h)
                for i, h in zip(ids[1:], people[1:], strict=True)
            )
        ),
        10,
    )
    # The first holds a seat already: one seat was left for three, the rest wait in line.
    assert sorted(r.json()["status"] for r in others) == ["confirmed", "waitlisted", "waitlisted"]
    assert sorted(r.json()["waitlist_position"] or 0 for r in others) == [0, 1, 2]
    assert not first.done()
    held, holds, _ = await state(engine, event_id)
    assert (held, holds) == (2, 1)  # the first's hold, not yet consumed
    resume.set()
    answer = await first
    assert (answer.status_code, answer.json()["status"]) == (200, "confirmed")
    held, holds, statuses = await state(engine, event_id)
    assert (held, holds) == (2, 0)
    assert sorted(statuses.values()) == ["confirmed", "confirmed", "waitlisted", "waitlisted"]


async def test_a_commit_that_fails_gives_the_seat_back(live, app, engine, monkeypatch):
    """The route took a seat and returned; its COMMIT fails. The seat goes back at once, the
    answer is a 503 to retry, and the retry confirms."""
    event_id, member, registration_id = await one_registration(live, app, engine, 1)
    commit = AsyncSession.commit

    async def lost_commit(self: AsyncSession) -> None:
        if self.info.get("dl_side_engine") is not None:
            await self.rollback()
            raise OperationalError("COMMIT", {}, ConnectionResetError("connection lost"))
        await commit(self)

    monkeypatch.setattr(AsyncSession, "commit", lost_commit)
    failed = await live.post(f"/api/v1/registrations/{registration_id}/confirm", headers=member)
    assert failed.status_code == 503, failed.text
    assert failed.headers["content-type"] == "application/problem+json"
    assert await state(engine, event_id) == (0, 0, {registration_id: "pending_confirmation"})
    monkeypatch.setattr(AsyncSession, "commit", commit)
    retried = await live.post(f"/api/v1/registrations/{registration_id}/confirm", headers=member)
    assert (retried.status_code, retried.json()["status"]) == (200, "confirmed")
    assert await state(engine, event_id) == (1, 0, {registration_id: "confirmed"})


async def test_a_commit_whose_answer_was_lost_keeps_the_seat(live, app, engine, monkeypatch):
    """The COMMIT landed but its answer did not: giving back finds the hold consumed and leaves
    the confirmed seat alone."""
    event_id, member, registration_id = await one_registration(live, app, engine, 1)
    commit = AsyncSession.commit

    async def unanswered_commit(self: AsyncSession) -> None:
        await commit(self)
        if self.info.get("dl_side_engine") is not None:
            raise OperationalError("COMMIT", {}, ConnectionResetError("connection lost"))

    monkeypatch.setattr(AsyncSession, "commit", unanswered_commit)
    answer = await live.post(f"/api/v1/registrations/{registration_id}/confirm", headers=member)
    assert answer.status_code == 503
    assert await state(engine, event_id) == (1, 0, {registration_id: "confirmed"})


async def test_a_seat_left_by_a_dead_request_returns_when_its_hold_expires(live, app, engine):
    """A process died between taking a seat and confirming: the seat is away from the others
    until the hold expires, then the job gives it to the first in line."""
    _, admin = await committed_member(app, engine, "admin")
    (_, dead), (_, waiting) = [await committed_member(app, engine) for _ in range(2)]
    event_id = await open_event(live, admin, 1)
    dead_id = await register(live, dead, event_id)
    now = datetime.now(UTC)
    side = app.state.side_engine
    assert await repository.hold_seat(
        side, uuid.UUID(event_id), uuid.UUID(dead_id), now + service.SEAT_HOLD_TTL
    )
    waiting_id = await register(live, waiting, event_id)
    joined = await live.post(f"/api/v1/registrations/{waiting_id}/confirm", headers=waiting)
    assert joined.json()["status"] == "waitlisted"
    settings = make_settings()
    maker = async_sessionmaker(engine, expire_on_commit=False)
    async with maker() as session:  # not yet expired: nothing moves
        assert await service.release_seat_holds(session, settings, now) == 0
        await session.commit()
    assert (await state(engine, event_id))[:2] == (1, 1)
    later = now + service.SEAT_HOLD_TTL + timedelta(seconds=1)
    async with maker() as session:
        assert await service.release_seat_holds(session, settings, later) == 1
        await session.commit()
    assert await state(engine, event_id) == (
        1,
        0,
        {dead_id: "pending_confirmation", waiting_id: "offered"},
    )


async def test_an_earlier_attempts_hold_is_the_registrations_own(live, app, engine):
    """A hold an earlier attempt left (its give-back failed too) is used by the next attempt,
    not doubled."""
    event_id, member, registration_id = await one_registration(live, app, engine, 3)
    expires = datetime.now(UTC) + service.SEAT_HOLD_TTL
    side = app.state.side_engine
    assert await repository.hold_seat(
        side, uuid.UUID(event_id), uuid.UUID(registration_id), expires
    )
    assert (await state(engine, event_id))[:2] == (1, 1)
    answer = await live.post(f"/api/v1/registrations/{registration_id}/confirm", headers=member)
    assert answer.json()["status"] == "confirmed"
    assert await state(engine, event_id) == (1, 0, {registration_id: "confirmed"})


async def test_a_seat_that_cannot_be_had_in_time_is_a_503_to_retry(live, app, engine, monkeypatch):
    """Another transaction keeps the event's row (an admin's change): the side statement waits
    its ``lock_timeout`` and gives up. The answer is 503 with Retry-After, nothing is taken,
    and the retry, once the row is free, confirms."""
    event_id, member, registration_id = await one_registration(live, app, engine, 1)
    monkeypatch.setattr(db_module, "SIDE_LOCK_TIMEOUT_MS", 200)
    side = db_module.create_side_engine(make_settings())
    kept, app.state.side_engine = app.state.side_engine, side
    try:
        async with engine.connect() as holder:
            await holder.execute(
                select(Event.id).where(Event.id == uuid.UUID(event_id)).with_for_update()
            )
            refused = await live.post(
                f"/api/v1/registrations/{registration_id}/confirm", headers=member
            )
            await holder.rollback()
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) >= 1
        assert await state(engine, event_id) == (0, 0, {registration_id: "pending_confirmation"})
        retried = await live.post(
            f"/api/v1/registrations/{registration_id}/confirm", headers=member
        )
        assert retried.json()["status"] == "confirmed"
    finally:
        app.state.side_engine = kept
        await side.dispose()


async def test_a_dead_side_connection_is_replaced_not_failed(live, app, engine):
    """PostgreSQL ended the side pool's connection (a restart, an admin): the next seat is
    taken on a fresh one, and the confirmation succeeds."""
    event_id, member, registration_id = await one_registration(live, app, engine, 1)
    side = db_module.create_side_engine(make_settings())
    kept, app.state.side_engine = app.state.side_engine, side
    try:
        async with side.connect() as pooled:
            pid = await pooled.scalar(text("SELECT pg_backend_pid()"))
        async with engine.connect() as other:
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        answer = await live.post(f"/api/v1/registrations/{registration_id}/confirm", headers=member)
        assert (answer.status_code, answer.json()["status"]) == (200, "confirmed")
        assert await state(engine, event_id) == (1, 0, {registration_id: "confirmed"})
    finally:
        app.state.side_engine = kept
        await side.dispose()


async def test_each_outcome_is_one_statement_with_its_event(live, app, engine, count_statements):
    """On the event-day path a confirmation writes its outcome and its event in one statement
    of its transaction: the seat (the hold consumed, the registration confirmed) or the place
    in line; the seat and the place themselves are taken on the side."""
    _, admin = await committed_member(app, engine, "admin")
    seated, lined = [(await committed_member(app, engine))[1] for _ in range(2)]
    event_id = await open_event(live, admin, 1)
    ids = [await register(live, headers, event_id) for headers in (seated, lined)]
    outcomes = []
    for registration_id, headers in zip(ids, (seated, lined), strict=True):
        count_statements.clear()
        answer = await live.post(
            f"/api/v1/registrations/{registration_id}/confirm", headers=headers
        )
        assert answer.status_code == 200, answer.text
        ran = [" ".join(s.split()[:3]) for s in count_statements]
        outcomes.append((answer.json()["status"], ran))
    assert outcomes == [
        ("confirmed", ["SELECT registration.id, registration.event_id,", "WITH consumed AS"]),
        ("waitlisted", ["SELECT registration.id, registration.event_id,", "WITH lined AS"]),
    ]
    assert await state(engine, event_id) == (1, 0, {ids[0]: "confirmed", ids[1]: "waitlisted"})
    async with async_sessionmaker(engine)() as session:
        announced = (
            await session.execute(
                select(OutboxEvent.type, OutboxEvent.subject_id, OutboxEvent.data).where(
                    OutboxEvent.type.in_(["registration.confirmed", "registration.waitlisted"])
                )
            )
        ).all()
    assert sorted((t, str(s), d["version"], d["status"]) for t, s, d in announced) == [
        ("registration.confirmed", ids[0], 2, "confirmed"),
        ("registration.waitlisted", ids[1], 2, "waitlisted"),
    ]
