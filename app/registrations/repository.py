"""Every query of registrations, including the conditional updates that guard the seats."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, delete, func, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app.core import outbox
from app.models.event import Event
from app.models.member import Member
from app.models.notification import (
    CalendarFeed,
    NextEventGuest,
    NextEventRequest,
    RegistrationReminder,
)
from app.models.registration import Registration, RegistrationStatus, SeatHold


class DuplicateRegistration(Exception):
    pass


_REGISTRATION = Registration.__table__


async def get(session: AsyncSession, registration_id: uuid.UUID) -> Registration | None:
    return await session.get(Registration, registration_id)


async def get_for_update(session: AsyncSession, registration_id: uuid.UUID) -> Registration | None:
    rows = await session.execute(
        select(Registration).where(Registration.id == registration_id).with_for_update()
    )
    return rows.scalar_one_or_none()


# Confirming's first statement: the registration locked (only its row), with its attendee's
# name and its event, which the confirmation needs next; one round trip instead of two. Built
# once, so that SQLAlchemy compiles it once.
_TO_CONFIRM = (
    select(Registration, Member.full_name, Event)
    .join(Event, Event.id == Registration.event_id)
    .outerjoin(Member, Member.id == Registration.member_id)
    .where(Registration.id == bindparam("registration_id"))
    .with_for_update(of=Registration)
)


async def get_to_confirm(
    session: AsyncSession, registration_id: uuid.UUID
) -> tuple[Registration, str | None, Event] | None:
    """``get_for_update`` and ``attendee_name`` in one statement, with the registration's
    event (read, not locked)."""
    row = (await session.execute(_TO_CONFIRM, {"registration_id": registration_id})).first()
    if row is None:
        return None
    registration, full_name, event = row
    name = full_name if registration.member_id else _guest_label(registration)
    return registration, name, event


async def of_member(
    session: AsyncSession, event_id: uuid.UUID, member_id: uuid.UUID, *, for_update: bool = False
) -> Registration | None:
    query = select(Registration).where(
        Registration.event_id == event_id, Registration.member_id == member_id
    )
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def of_guest(session: AsyncSession, event_id: uuid.UUID, email: str) -> Registration | None:
    rows = await session.execute(
        select(Registration)
        .where(Registration.event_id == event_id, Registration.guest_email == email)
        .with_for_update()
    )
    return rows.scalar_one_or_none()


async def by_timepad_order(session: AsyncSession, order_id: int) -> Registration | None:
    rows = await session.execute(
        select(Registration).where(Registration.timepad_order_id == order_id).with_for_update()
    )
    return rows.scalar_one_or_none()


def _dialect(session: AsyncSession) -> Any:
    return postgresql if session.get_bind().dialect.name == "postgresql" else sqlite


# The insert of ``add``, built once per dialect (their ON CONFLICT clauses differ), so that
# SQLAlchemy compiles it once; every column is a parameter.
_INSERT_UNLESS_THERE = {
    dialect.__name__.rpartition(".")[2]: dialect.insert(_REGISTRATION)
    .on_conflict_do_nothing()
    .returning(_REGISTRATION.c.id)
    for dialect in (postgresql, sqlite)
}


# Registering on PostgreSQL: the insert and its event in one statement; the event is written
# only if the registration was (``outbox.insert_for``).
_ADDED = (
    postgresql.insert(_REGISTRATION)
    .values({c.key: bindparam(f"new_{c.key}", type_=c.type) for c in _REGISTRATION.columns})
    .on_conflict_do_nothing()
    .returning(_REGISTRATION.c.id)
    .cte("added")
)
_ADD_ANNOUNCED = (
    outbox.insert_for(_ADDED.c.id).add_cte(_ADDED).returning(outbox.OUTBOX.c.subject_id)
)


async def add(
    session: AsyncSession, registration: Registration, announced: dict[str, Any] | None = None
) -> None:
    """Insert at once; a concurrent duplicate (the same person for the event, the same Timepad
    order) inserts nothing and becomes ``DuplicateRegistration``. ON CONFLICT DO NOTHING leaves
    the caller's transaction usable without a savepoint, whose SAVEPOINT and RELEASE cost two
    round trips per registration. The registration is then the session's, as if flushed.
    ``announced`` (``outbox.announcement``): its event, written with it (one statement on
    PostgreSQL), and not at all for a duplicate.

    Run on the session's connection, past the ORM's execution path, which costs more than the
    insert itself; what the session holds unflushed (a member created for a guest) goes first."""
    await session.flush()
    connection = await session.connection()
    values = {column.key: getattr(registration, column.key) for column in _REGISTRATION.columns}
    if announced is not None and connection.dialect.name == "postgresql":
        params = {f"new_{key}": value for key, value in values.items()}
        params.update(outbox.params(announced))
        added = (await connection.execute(_ADD_ANNOUNCED, params)).first()
    else:
        statement = _INSERT_UNLESS_THERE[connection.dialect.name]
        added = (await connection.execute(statement, values)).first()
        if added is not None and announced is not None:
            await connection.execute(outbox.INSERT, announced)
    if added is None:
        raise DuplicateRegistration
    make_transient_to_detached(registration)
    session.add(registration)


async def take_seat(session: AsyncSession, event_id: uuid.UUID) -> bool:
    """Hold one more seat if one is free: one atomic conditional update. Concurrent callers
    queue on the event's row and each re-reads ``seats_held``, so the seats are never
    oversold (and the CHECK constraint stops any code path that would)."""
    result = await session.execute(
        update(Event)
        .where(Event.id == event_id, Event.seats_held < Event.seats)
        .values(seats_held=Event.seats_held + 1)
        .returning(Event.id)
    )
    return result.scalar_one_or_none() is not None


# -- seats and places in line taken on the side (PostgreSQL; see ``core.db.create_side_engine``)
# Each statement commits on its own and holds the event's row for its own execution only.

_EVENT = Event.__table__
_HOLD = SeatHold.__table__
_TAKEN = (
    update(_EVENT)
    .where(_EVENT.c.id == bindparam("event_id"), _EVENT.c.seats_held < _EVENT.c.seats)
    .values(seats_held=_EVENT.c.seats_held + 1)
    .returning(_EVENT.c.id)
    .cte("taken")
)
# The seat and its hold in one statement: both happen or neither does.
_HOLD_SEAT = (
    insert(_HOLD)
    .from_select(
        ["registration_id", "event_id", "expires_at"],
        select(
            bindparam("registration_id", type_=_HOLD.c.registration_id.type),
            _TAKEN.c.id,
            bindparam("expires_at", type_=_HOLD.c.expires_at.type),
        ),
    )
    .add_cte(_TAKEN)
    .returning(_HOLD.c.registration_id)
)
_GONE = (
    delete(_HOLD)
    .where(_HOLD.c.registration_id == bindparam("registration_id"))
    .returning(_HOLD.c.event_id)
    .cte("gone")
)
_GIVE_BACK = (
    update(_EVENT)
    .where(_EVENT.c.id == _GONE.c.event_id, _EVENT.c.seats_held > 0)
    .values(seats_held=_EVENT.c.seats_held - 1)
    .add_cte(_GONE)
)
_NEXT_IN_LINE = (
    update(_EVENT)
    .where(_EVENT.c.id == bindparam("event_id"))
    .values(waitlist_seq=_EVENT.c.waitlist_seq + 1)
    .returning(_EVENT.c.waitlist_seq)
)


async def _on_the_side(
    side: AsyncEngine, statement: Any, params: dict[str, Any], *, returns: bool = True
) -> Row[Any] | None:
    """Run one side statement; its first row. A pooled connection found dead (PostgreSQL
    restarted, the backend was ended) is retried once on a fresh one, as the main pool's
    requests are by their clients: each statement here is safe to run again (a second hold
    for the registration is refused by its key, a place in line taken twice leaves a gap,
    giving back finds nothing the second time)."""
    for attempt in (1, 2):
        try:
            async with side.connect() as connection:
                result = await connection.execute(statement, params)
                return result.first() if returns else None
        except DBAPIError as error:
            if attempt == 2 or not error.connection_invalidated:
                raise
    raise AssertionError("unreachable")


async def hold_seat(
    side: AsyncEngine, event_id: uuid.UUID, registration_id: uuid.UUID, expires_at: datetime
) -> bool:
    """Take a seat for a registration and record the hold, committed at once. True when the
    registration holds a seat: a new one, or one an earlier attempt of its own took and never
    consumed (its hold is still there; the caller holds the registration's row, so no other
    attempt is running)."""
    params = {"event_id": event_id, "registration_id": registration_id, "expires_at": expires_at}
    try:
        row = await _on_the_side(side, _HOLD_SEAT, params)
    except IntegrityError:  # the earlier hold: the statement took nothing
        return True
    return row is not None


def _changed(columns: tuple[str, ...], *, where: Any) -> Any:
    """A CTE updating ``columns`` of the registration ``where`` says (each a parameter named
    ``new_<column>``), returning its id: the subject of the event written after it."""
    return (
        update(_REGISTRATION)
        .where(where)
        .values(
            {name: bindparam(f"new_{name}", type_=_REGISTRATION.c[name].type) for name in columns}
        )
        .returning(_REGISTRATION.c.id)
    )


_SEATED_COLUMNS = ("status", "version", "confirmed_at", "updated_at")
_LINED_COLUMNS = ("status", "version", "waitlist_position", "updated_at")
_CONSUMED = (
    delete(_HOLD)
    .where(_HOLD.c.registration_id == bindparam("registration_id"))
    .returning(_HOLD.c.registration_id)
    .cte("consumed")
)
_SEATED = _changed(_SEATED_COLUMNS, where=_REGISTRATION.c.id == _CONSUMED.c.registration_id).cte(
    "seated"
)
# Confirming with a held seat: the hold deleted, the registration confirmed and its event
# written, in one statement; all of it, or nothing when the hold went back meanwhile.
_CONSUME_AND_CONFIRM = (
    outbox.insert_for(_SEATED.c.id)
    .add_cte(_CONSUMED, _SEATED)
    .returning(outbox.OUTBOX.c.subject_id)
)
_LINED = _changed(_LINED_COLUMNS, where=_REGISTRATION.c.id == bindparam("registration_id")).cte(
    "lined"
)
_JOIN_LINE = outbox.insert_for(_LINED.c.id).add_cte(_LINED).returning(outbox.OUTBOX.c.subject_id)


async def _write_change(
    session: AsyncSession,
    statement: Any,
    registration: Registration,
    columns: tuple[str, ...],
    changes: dict[str, Any],
    announced: dict[str, Any],
) -> bool:
    """Run one of the change-and-announce statements on the session's connection (PostgreSQL,
    past the ORM's unit of work); when it wrote, ``registration`` shows ``changes`` as the
    database's own, so the session writes them no second time."""
    params = {"registration_id": registration.id, **outbox.params(announced)}
    params.update({f"new_{name}": changes[name] for name in columns})
    connection = await session.connection()
    if (await connection.execute(statement, params)).first() is None:
        return False
    for name in columns:
        set_committed_value(registration, name, changes[name])
    return True


async def consume_seat_hold(
    session: AsyncSession,
    registration: Registration,
    changes: dict[str, Any],
    announced: dict[str, Any],
) -> bool:
    """In the confirmation's transaction (PostgreSQL): the hold becomes the confirmed
    registration's seat; ``changes`` (status, version, confirmed_at, updated_at) and its event
    are written in the same statement. False, with nothing written, when the hold expired and
    went back to the event meanwhile."""
    return await _write_change(
        session, _CONSUME_AND_CONFIRM, registration, _SEATED_COLUMNS, changes, announced
    )


async def join_waiting_list(
    session: AsyncSession,
    registration: Registration,
    changes: dict[str, Any],
    announced: dict[str, Any],
) -> None:
    """In the confirmation's transaction (PostgreSQL), one statement: the registration joins
    the waiting list with ``changes`` (status, version, waitlist_position, updated_at) and its
    event is written. The caller holds the registration's row, so the update finds it."""
    written = await _write_change(
        session, _JOIN_LINE, registration, _LINED_COLUMNS, changes, announced
    )
    assert written, "the registration is locked by this transaction"


async def give_back_seat_hold(side: AsyncEngine, registration_id: uuid.UUID) -> None:
    """The request failed: its hold, if no committed transaction consumed it, goes back."""
    await _on_the_side(side, _GIVE_BACK, {"registration_id": registration_id}, returns=False)


async def take_place_in_line(side: AsyncEngine, event_id: uuid.UUID) -> int:
    """The next number of the event's waiting list, committed at once. A request that fails
    afterwards leaves a gap: the line is ordered by these numbers, never counted by them."""
    row = await _on_the_side(side, _NEXT_IN_LINE, {"event_id": event_id})
    assert row is not None  # the event exists: the caller holds one of its registrations
    return int(row[0])


async def release_expired_seat_holds(session: AsyncSession, now: datetime) -> dict[uuid.UUID, int]:
    """Holds of requests that never confirmed go back to their events: seats freed per event.
    A hold being consumed right now is row-locked by its transaction; whichever of the two
    deletes it first wins, and the other finds nothing."""
    result = await session.execute(
        delete(SeatHold).where(SeatHold.expires_at < now).returning(SeatHold.event_id)
    )
    freed: dict[uuid.UUID, int] = {}
    for (event_id,) in result:
        freed[event_id] = freed.get(event_id, 0) + 1
    for event_id, count in freed.items():
        await session.execute(
            update(Event)
            .where(Event.id == event_id, Event.seats_held >= count)
            .values(seats_held=Event.seats_held - count)
        )
    return freed


async def get_member(session: AsyncSession, member_id: uuid.UUID) -> Member | None:
    member = await session.get(Member, member_id)
    return None if member is None or member.erased_at is not None else member


async def add_seat(session: AsyncSession, event_id: uuid.UUID) -> None:
    """One more seat at the event (an admin admits someone into a full room)."""
    await session.execute(update(Event).where(Event.id == event_id).values(seats=Event.seats + 1))


async def release_seat(session: AsyncSession, event_id: uuid.UUID) -> None:
    await session.execute(
        update(Event)
        .where(Event.id == event_id, Event.seats_held > 0)
        .values(seats_held=Event.seats_held - 1)
    )


async def release_all_seats(session: AsyncSession, event_id: uuid.UUID) -> None:
    await session.execute(update(Event).where(Event.id == event_id).values(seats_held=0))


async def next_waitlist_position(session: AsyncSession, event_id: uuid.UUID) -> int:
    """The next place in line, numbered under the event's row lock: first come, first served."""
    result = await session.execute(
        update(Event)
        .where(Event.id == event_id)
        .values(waitlist_seq=Event.waitlist_seq + 1)
        .returning(Event.waitlist_seq)
    )
    return int(result.scalar_one())


async def first_waitlisted(session: AsyncSession, event_id: uuid.UUID) -> Registration | None:
    rows = await session.execute(
        select(Registration)
        .where(
            Registration.event_id == event_id, Registration.status == RegistrationStatus.waitlisted
        )
        .order_by(Registration.waitlist_position)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return rows.scalar_one_or_none()


async def with_status(
    session: AsyncSession, event_id: uuid.UUID, statuses: Sequence[str]
) -> list[Registration]:
    rows = await session.execute(
        select(Registration)
        .where(Registration.event_id == event_id, Registration.status.in_(statuses))
        .order_by(Registration.created_at, Registration.id)
        .with_for_update()
    )
    return list(rows.scalars())


async def expired_offers(session: AsyncSession, now: datetime, limit: int) -> list[Registration]:
    rows = await session.execute(
        select(Registration)
        .where(
            Registration.status == RegistrationStatus.offered, Registration.offer_expires_at < now
        )
        .order_by(Registration.offer_expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows.scalars())


async def unconfirmed_past_deadline(
    session: AsyncSession, now: datetime, limit: int
) -> list[Registration]:
    rows = await session.execute(
        select(Registration)
        .join(Event, Event.id == Registration.event_id)
        .where(
            Registration.status == RegistrationStatus.pending_confirmation,
            Event.confirm_by.is_not(None),
            Event.confirm_by < now,
        )
        .limit(limit)
        .with_for_update(of=Registration, skip_locked=True)
    )
    return list(rows.scalars())


async def list_for_event(
    session: AsyncSession,
    event_id: uuid.UUID,
    *,
    status: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[tuple[Registration, str | None]]:
    query = (
        select(Registration, Member.full_name)
        .outerjoin(Member, Member.id == Registration.member_id)
        .where(Registration.event_id == event_id)
    )
    if status is not None:
        query = query.where(Registration.status == status)
    if after is not None:
        query = query.where(tuple_(Registration.created_at, Registration.id) > tuple_(*after))
    rows = await session.execute(
        query.order_by(Registration.created_at, Registration.id).limit(limit + 1)
    )
    return [(row[0], row[1]) for row in rows.all()]


# A registration as my list reads it: the table's columns, and the attendee's name.
RegistrationRow = Row[Any]
_registration, _member = Registration.__table__, Member.__table__
_MINE = (
    select(*_registration.c, _member.c.full_name.label("attendee_name"))
    .join(_member, _member.c.id == _registration.c.member_id)
    .where(
        _registration.c.member_id == bindparam("member_id", type_=_registration.c.member_id.type)
    )
    .order_by(_registration.c.created_at.desc(), _registration.c.id.desc())
    .limit(bindparam("limit"))
)
_MINE_AFTER = _MINE.where(
    tuple_(_registration.c.created_at, _registration.c.id)
    < tuple_(
        bindparam("after_created_at", type_=_registration.c.created_at.type),
        bindparam("after_id", type_=_registration.c.id.type),
    )
)


async def list_of_member(
    session: AsyncSession,
    member_id: uuid.UUID,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[RegistrationRow]:
    """A member's registrations, newest first, with their name: one statement, built once."""
    params: dict[str, Any] = {"member_id": member_id, "limit": limit + 1}
    if after is not None:
        params.update(after_created_at=after[0], after_id=after[1])
    connection = await session.connection()
    result = await connection.execute(_MINE if after is None else _MINE_AFTER, params)
    return list(result.all())


def _guest_label(registration: Registration) -> str | None:
    """How a guest (a Timepad buyer without an account) is named: by name, else by address."""
    return registration.guest_name or registration.guest_email


async def attendee_name(session: AsyncSession, registration: Registration) -> str | None:
    if registration.member_id is None:
        return _guest_label(registration)
    # Registering read the member already (their address must be verified): no query then.
    known = session.identity_map.get(identity_key(Member, registration.member_id))
    if isinstance(known, Member):
        return known.full_name
    return await session.scalar(select(Member.full_name).where(Member.id == registration.member_id))


async def source_counts(session: AsyncSession, event_id: uuid.UUID) -> Sequence[Any]:
    return (
        await session.execute(
            select(
                Registration.source,
                Registration.utm_source,
                Registration.utm_campaign,
                Registration.status,
                func.count(),
            )
            .where(Registration.event_id == event_id)
            .group_by(
                Registration.source,
                Registration.utm_source,
                Registration.utm_campaign,
                Registration.status,
            )
        )
    ).all()


async def attendance_of(session: AsyncSession, member_id: uuid.UUID) -> Sequence[Any]:
    return (
        await session.execute(
            select(Registration, Event.title, Event.starts_at)
            .join(Event, Event.id == Registration.event_id)
            .where(Registration.member_id == member_id)
            .order_by(Event.starts_at.desc())
        )
    ).all()


async def member_by_email(session: AsyncSession, email_normalized: str) -> Member | None:
    rows = await session.execute(
        select(Member).where(
            Member.email_normalized == email_normalized, Member.erased_at.is_(None)
        )
    )
    return rows.scalar_one_or_none()


async def events_with_reminders_due(
    session: AsyncSession, now: datetime, horizon: datetime
) -> list[Event]:
    """Events still ahead and starting before ``horizon`` (the longest reminder offset)."""
    rows = await session.execute(
        select(Event)
        .where(
            Event.status.in_(["published", "registration_open", "registration_closed"]),
            Event.starts_at > now,
            Event.starts_at <= horizon,
        )
        .order_by(Event.starts_at, Event.id)
    )
    return list(rows.scalars())


async def confirmed_without_reminder(
    session: AsyncSession, event_id: uuid.UUID, offset_minutes: int, due: datetime, limit: int
) -> list[Registration]:
    """Confirmed members who confirmed by ``due`` and have no reminder of this offset yet."""
    sent = select(RegistrationReminder.registration_id).where(
        RegistrationReminder.registration_id == Registration.id,
        RegistrationReminder.offset_minutes == offset_minutes,
    )
    rows = await session.execute(
        select(Registration)
        .where(
            Registration.event_id == event_id,
            Registration.status == RegistrationStatus.confirmed,
            Registration.member_id.is_not(None),
            Registration.confirmed_at <= due,
            ~sent.exists(),
        )
        .order_by(Registration.id)
        .limit(limit)
    )
    return list(rows.scalars())


async def claim_reminder(
    session: AsyncSession, registration_id: uuid.UUID, offset_minutes: int, now: datetime
) -> bool:
    """Record the reminder; False if another run recorded it first (it sends, not this one)."""
    inserted = await session.execute(
        _dialect(session)
        .insert(RegistrationReminder)
        .values(registration_id=registration_id, offset_minutes=offset_minutes, sent_at=now)
        .on_conflict_do_nothing(index_elements=["registration_id", "offset_minutes"])
        .returning(RegistrationReminder.registration_id)
    )
    return inserted.scalar_one_or_none() is not None


async def calendar_feed(
    session: AsyncSession, member_id: uuid.UUID, *, for_update: bool = False
) -> CalendarFeed | None:
    query = select(CalendarFeed).where(CalendarFeed.member_id == member_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def calendar_feed_by_digest(session: AsyncSession, digest: str) -> CalendarFeed | None:
    return await session.scalar(select(CalendarFeed).where(CalendarFeed.token_digest == digest))


async def delete_calendar_feed(session: AsyncSession, member_id: uuid.UUID) -> bool:
    result = await session.execute(delete(CalendarFeed).where(CalendarFeed.member_id == member_id))
    return bool(result.rowcount)


async def attending_since(
    session: AsyncSession, member_id: uuid.UUID, since: datetime
) -> list[tuple[Registration, Event]]:
    rows = await session.execute(
        select(Registration, Event)
        .join(Event, Event.id == Registration.event_id)
        .where(
            Registration.member_id == member_id,
            Registration.status.in_([RegistrationStatus.confirmed, RegistrationStatus.checked_in]),
            Event.starts_at >= since,
        )
        .order_by(Event.starts_at, Event.id)
    )
    return [(row[0], row[1]) for row in rows]


async def listed_events_since(
    session: AsyncSession, since: datetime, statuses: Sequence[str], limit: int
) -> list[Event]:
    rows = await session.execute(
        select(Event)
        .where(Event.status.in_(statuses), Event.starts_at >= since)
        .order_by(Event.starts_at, Event.id)
        .limit(limit)
    )
    return list(rows.scalars())


async def next_event_request(
    session: AsyncSession, member_id: uuid.UUID
) -> NextEventRequest | None:
    return await session.get(NextEventRequest, member_id)


async def delete_next_event_request(session: AsyncSession, member_id: uuid.UUID) -> bool:
    result = await session.execute(
        delete(NextEventRequest).where(NextEventRequest.member_id == member_id)
    )
    return bool(result.rowcount)


async def claim_next_event_requests(
    session: AsyncSession, event_id: uuid.UUID, opened_at: datetime, now: datetime
) -> list[uuid.UUID]:
    """Mark the requests made before the opening as answered by this event; their members."""
    rows = await session.execute(
        update(NextEventRequest)
        .where(
            NextEventRequest.notified_event_id.is_(None),
            NextEventRequest.requested_at <= opened_at,
        )
        .values(notified_event_id=event_id, notified_at=now)
        .returning(NextEventRequest.member_id)
    )
    return sorted(rows.scalars())


async def next_event_guest_by_key(session: AsyncSession, email_key: str) -> NextEventGuest | None:
    rows = await session.execute(
        select(NextEventGuest).where(NextEventGuest.email_key == email_key).with_for_update()
    )
    return rows.scalar_one_or_none()


async def add_next_event_guest(session: AsyncSession, guest: NextEventGuest) -> NextEventGuest:
    """Insert in a savepoint: when a simultaneous request for the same address inserted first,
    its row (locked) is the one to use."""
    try:
        async with session.begin_nested():
            session.add(guest)
            await session.flush()
    except IntegrityError:
        found = await next_event_guest_by_key(session, guest.email_key)
        if found is None:  # inserted and deleted again within the moment: let it surface
            raise
        return found
    return guest


async def next_event_guest(session: AsyncSession, guest_id: uuid.UUID) -> NextEventGuest | None:
    return await session.get(NextEventGuest, guest_id)


async def delete_next_event_guest(session: AsyncSession, guest_id: uuid.UUID) -> None:
    await session.execute(delete(NextEventGuest).where(NextEventGuest.id == guest_id))


async def claim_next_event_guests(
    session: AsyncSession, event_id: uuid.UUID, opened_at: datetime, now: datetime
) -> list[uuid.UUID]:
    """Mark the proven guests who asked before the opening as answered by this event."""
    rows = await session.execute(
        update(NextEventGuest)
        .where(
            NextEventGuest.notified_event_id.is_(None),
            NextEventGuest.verified_at.is_not(None),
            NextEventGuest.requested_at <= opened_at,
        )
        .values(notified_event_id=event_id, notified_at=now)
        .returning(NextEventGuest.id)
    )
    return sorted(rows.scalars())
