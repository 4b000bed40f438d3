"""Queries of the Timepad integration beyond the shared inbox."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.registration import Registration

SOURCE = "timepad"


async def registrations_with_orders(
    session: AsyncSession, event_id: uuid.UUID
) -> list[Registration]:
    rows = await session.execute(
        select(Registration).where(
            Registration.event_id == event_id, Registration.timepad_order_id.is_not(None)
        )
    )
    return list(rows.scalars())
