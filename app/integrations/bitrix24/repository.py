"""Queries of the Bitrix24 sync: members to send, links, sync runs."""

import asyncio
import uuid
import weakref
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime

from sqlalchemy import Select, exists, select, text, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.crm import CrmLink, CrmSyncRun, CrmSyncStatus
from app.models.event import Event
from app.models.member import Member
from app.models.outbox import OutboxEvent
from app.models.registration import Registration
from app.models.webhook import Delivery, DeliveryChannel, DeliveryStatus


async def get_member(session: AsyncSession, member_id: uuid.UUID) -> Member | None:
    return await session.get(Member, member_id)


async def members_after(
    session: AsyncSession, after: uuid.UUID | None, limit: int
) -> Sequence[Member]:
    """Members in id order, a page at a time (a sync over thousands never loads them all)."""
    query = select(Member).order_by(Member.id).limit(limit)
    if after is not None:
        query = query.where(Member.id > after)
    return (await session.execute(query)).scalars().all()


async def get_link(
    session: AsyncSession, subject_type: str, subject_id: uuid.UUID, crm_entity: str
) -> CrmLink | None:
    query = select(CrmLink).where(
        CrmLink.subject_type == subject_type,
        CrmLink.subject_id == subject_id,
        CrmLink.crm_entity == crm_entity,
    )
    return (await session.execute(query)).scalar_one_or_none()


async def links_for(
    session: AsyncSession, subject_type: str, subject_ids: Sequence[uuid.UUID], crm_entity: str
) -> dict[uuid.UUID, CrmLink]:
    if not subject_ids:
        return {}
    query = select(CrmLink).where(
        CrmLink.subject_type == subject_type,
        CrmLink.crm_entity == crm_entity,
        CrmLink.subject_id.in_(subject_ids),
    )
    return {link.subject_id: link for link in (await session.execute(query)).scalars()}


async def delete_link(session: AsyncSession, link: CrmLink) -> None:
    await session.delete(link)  # written with the round's other changes, at its end


async def get_run(session: AsyncSession, run_id: uuid.UUID) -> CrmSyncRun | None:
    return await session.get(CrmSyncRun, run_id)


async def pending_run(session: AsyncSession, kind: str) -> CrmSyncRun | None:
    query = select(CrmSyncRun).where(
        CrmSyncRun.kind == kind, CrmSyncRun.status == CrmSyncStatus.requested
    )
    return (await session.execute(query)).scalar_one_or_none()


async def add_run(session: AsyncSession, run: CrmSyncRun) -> CrmSyncRun:
    """Insert a requested run, or return the one already pending (a unique index allows one
    per kind, so two admins clicking at once get the same run)."""
    try:
        async with session.begin_nested():
            session.add(run)
    except IntegrityError:
        existing = await pending_run(session, run.kind)
        if existing is None:
            raise
        return existing
    return run


async def latest_run(session: AsyncSession, kind: str) -> CrmSyncRun | None:
    query = (
        select(CrmSyncRun)
        .where(CrmSyncRun.kind == kind)
        .order_by(CrmSyncRun.requested_at.desc(), CrmSyncRun.id.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


def _due_runs(now: datetime) -> Select[CrmSyncRun]:
    return (
        select(CrmSyncRun)
        .where(CrmSyncRun.status == CrmSyncStatus.requested, CrmSyncRun.next_attempt_at <= now)
        .order_by(CrmSyncRun.requested_at, CrmSyncRun.id)
        .limit(1)
    )


async def due_run_exists(session: AsyncSession, now: datetime) -> bool:
    return (await session.execute(_due_runs(now))).first() is not None


async def claim_due_run(
    session: AsyncSession, now: datetime, lease_until: datetime
) -> CrmSyncRun | None:
    """The oldest requested run whose time has come, claimed by one conditional UPDATE (it is
    not due again before ``lease_until``): correct in an autocommit session, where a row lock
    would end with its statement, and another worker that read the same run gets nothing."""
    run = (await session.execute(_due_runs(now).with_for_update(skip_locked=True))).scalar()
    if run is None:
        return None
    claimed = await session.execute(
        update(CrmSyncRun)
        .where(
            CrmSyncRun.id == run.id,
            CrmSyncRun.status == CrmSyncStatus.requested,
            CrmSyncRun.next_attempt_at <= now,
        )
        .values(attempts=CrmSyncRun.attempts + 1, started_at=now, next_attempt_at=lease_until)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return None
    await session.refresh(run)
    return run


async def any_unlinked_member(session: AsyncSession, subject_type: str, crm_entity: str) -> bool:
    """Is any member (not erased) without a link? If not, a full sync need not list the CRM."""
    linked = exists().where(
        CrmLink.subject_type == subject_type,
        CrmLink.crm_entity == crm_entity,
        CrmLink.subject_id == Member.id,
    )
    query = select(Member.id).where(Member.erased_at.is_(None), ~linked).limit(1)
    return (await session.execute(query)).first() is not None


_LOCK_KEYS = text(
    "SELECT count(pg_advisory_lock(hashtextextended(k, 0))) "
    "FROM unnest(CAST(:keys AS text[])) AS t(k)"
)
_UNLOCK_KEYS = text(
    "SELECT count(pg_advisory_unlock(hashtextextended(k, 0))) "
    "FROM unnest(CAST(:keys AS text[])) AS t(k)"
)
# SQLite serves one process: its syncs are serialised by in-process locks, dropped when unused.
_local_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


@asynccontextmanager
async def subjects_locked(
    session: AsyncSession, subject_type: str, subject_ids: Sequence[uuid.UUID]
) -> AsyncIterator[None]:
    """Serialise syncs of the same subjects, so two workers (or a worker and a full sync) never
    both create a contact for one member. The sync runs in an autocommit session (nothing held
    while Bitrix24 answers), so its writes are visible to the next holder when the lock is
    released. On PostgreSQL a session-level advisory lock, not a row lock: members editing
    their profile meanwhile are not blocked. Taken in key order, so two lockers of overlapping
    sets cannot deadlock."""
    keys = sorted(f"crm:{subject_type}:{subject_id}" for subject_id in subject_ids)
    if not keys:
        yield
        return
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_LOCK_KEYS, {"keys": keys})
        try:
            yield
        finally:
            await session.execute(_UNLOCK_KEYS, {"keys": keys})
        return
    async with AsyncExitStack() as stack:
        for key in keys:
            lock = _local_locks.setdefault(key, asyncio.Lock())
            await stack.enter_async_context(lock)
        yield


async def link_by_crm_id(session: AsyncSession, crm_entity: str, crm_id: int) -> CrmLink | None:
    rows = await session.execute(
        select(CrmLink).where(CrmLink.crm_entity == crm_entity, CrmLink.crm_id == crm_id)
    )
    return rows.scalars().first()


async def registration_with_event(
    session: AsyncSession, registration_id: uuid.UUID
) -> tuple[Registration, str] | None:
    row = (
        await session.execute(
            select(Registration, Event.title)
            .join(Event, Event.id == Registration.event_id)
            .where(Registration.id == registration_id)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def registration_ids_of(session: AsyncSession, member_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.execute(select(Registration.id).where(Registration.member_id == member_id))
    return list(rows.scalars())


async def failed_deliveries(
    session: AsyncSession, *, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[tuple[Delivery, OutboxEvent]]:
    """The CRM deliveries that ended failed, newest attempt first (``limit`` + 1 rows)."""
    query = (
        select(Delivery, OutboxEvent)
        .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
        .where(Delivery.channel == DeliveryChannel.crm, Delivery.status == DeliveryStatus.failed)
    )
    if after is not None:
        query = query.where(tuple_(Delivery.created_at, Delivery.id) < tuple_(*after))
    query = query.order_by(Delivery.created_at.desc(), Delivery.id.desc()).limit(limit + 1)
    return [(d, e) for d, e in (await session.execute(query)).all()]
