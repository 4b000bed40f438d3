"""The notification channel's queries: recipients and what the texts need."""

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.application import Application
from app.models.event import Event
from app.models.member import Member, MemberRole
from app.models.registration import Registration
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
) -> tuple[Registration, str, datetime] | None:
    row = (
        await session.execute(
            select(Registration, Event.title, Event.starts_at)
            .join(Event, Event.id == Registration.event_id)
            .where(Registration.id == registration_id)
        )
    ).first()
    return (row[0], row[1], row[2]) if row else None


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
