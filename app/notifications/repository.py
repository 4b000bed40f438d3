"""The notification channel's queries: recipients and what the texts need."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.application import Application
from app.models.event import Event
from app.models.member import Member, MemberRole
from app.models.registration import Registration, RegistrationStatus
from app.models.table import TableSeat
from app.models.webhook import WebhookSubscription


async def members_with_role(session: AsyncSession, role: str) -> list[uuid.UUID]:
    rows = await session.execute(
        select(Member.id)
        .join(MemberRole, MemberRole.member_id == Member.id)
        .where(MemberRole.role == role, Member.erased_at.is_(None))
        .order_by(Member.id)
    )
    return list(rows.scalars())


async def recipient(session: AsyncSession, member_id: uuid.UUID) -> Member | None:
    member = await session.get(Member, member_id)
    if member is None or member.erased_at is not None:
        return None
    return member


async def subscription_url(session: AsyncSession, subscription_id: uuid.UUID) -> str | None:
    return await session.scalar(
        select(WebhookSubscription.url).where(WebhookSubscription.id == subscription_id)
    )


async def application_decision(
    session: AsyncSession, application_id: uuid.UUID
) -> tuple[str, str | None] | None:
    row = (
        await session.execute(
            select(Application.status, Application.decision_reason).where(
                Application.id == application_id
            )
        )
    ).first()
    return (row[0], row[1]) if row else None


async def registration_member(
    session: AsyncSession, registration_id: uuid.UUID
) -> uuid.UUID | None:
    return await session.scalar(
        select(Registration.member_id).where(Registration.id == registration_id)
    )


async def registration_with_event(
    session: AsyncSession, registration_id: uuid.UUID
) -> tuple[Registration, Event] | None:
    row = (
        await session.execute(
            select(Registration, Event)
            .join(Event, Event.id == Registration.event_id)
            .where(Registration.id == registration_id)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def place_in_line(session: AsyncSession, registration: Registration) -> int:
    """Where a waitlisted registration stands now: 1 is next."""
    ahead = await session.scalar(
        select(func.count())
        .select_from(Registration)
        .where(
            Registration.event_id == registration.event_id,
            Registration.status == RegistrationStatus.waitlisted,
            Registration.waitlist_position < registration.waitlist_position,
        )
    )
    return int(ahead or 0) + 1


async def event(session: AsyncSession, event_id: uuid.UUID) -> Event | None:
    return await session.get(Event, event_id)


async def registered_members(
    session: AsyncSession, event_id: uuid.UUID, statuses: Sequence[str]
) -> list[uuid.UUID]:
    rows = await session.execute(
        select(Registration.member_id)
        .where(
            Registration.event_id == event_id,
            Registration.member_id.is_not(None),
            Registration.status.in_(statuses),
        )
        .order_by(Registration.member_id)
    )
    return [m for m in rows.scalars() if m is not None]


async def registration_of(
    session: AsyncSession, event_id: uuid.UUID, member_id: uuid.UUID
) -> Registration | None:
    return await session.scalar(
        select(Registration).where(
            Registration.event_id == event_id, Registration.member_id == member_id
        )
    )


async def seated_members(session: AsyncSession, event_id: uuid.UUID) -> list[uuid.UUID]:
    """Who sits at one of the event's published tables now (once, whatever the rounds)."""
    rows = await session.execute(
        select(TableSeat.member_id)
        .where(TableSeat.event_id == event_id)
        .distinct()
        .order_by(TableSeat.member_id)
    )
    return list(rows.scalars())


async def event_title(session: AsyncSession, event_id: uuid.UUID) -> tuple[str, datetime] | None:
    row = (
        await session.execute(select(Event.title, Event.starts_at).where(Event.id == event_id))
    ).first()
    return None if row is None else (row[0], row[1])
