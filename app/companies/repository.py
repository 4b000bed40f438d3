"""Queries of the company aliases."""

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.company import CompanyAlias


async def all_aliases(session: AsyncSession) -> Sequence[CompanyAlias]:
    rows = await session.execute(select(CompanyAlias).order_by(CompanyAlias.alias_key))
    return rows.scalars().all()


async def replace_aliases(session: AsyncSession, aliases: Sequence[CompanyAlias]) -> None:
    await session.execute(delete(CompanyAlias))
    session.add_all(aliases)
    await session.flush()
