"""Every query about members: the directory, profiles, roles, consents, exports."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, exists, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.audit import AuditEntry
from app.models.member import ConsentChange, Member, MemberRole, Role
from app.models.token import RefreshToken


@dataclass(frozen=True, slots=True)
class MemberFilters:
    function: str | None = None
    seniority: int | None = None
    city: str | None = None
    industry: str | None = None
    tag: str | None = None
    status: str | None = None
    role: str | None = None
    q: str | None = None
    company: str | None = None
    email: str | None = None


# sort name -> (the column expression, descending?)
SORT_KEYS: dict[str, tuple[Any, bool]] = {
    "created_at": (Member.created_at, False),
    "-created_at": (Member.created_at, True),
    "full_name": (Member.full_name, False),
    "-full_name": (Member.full_name, True),
    "company": (func.coalesce(Member.company, ""), False),
    "-company": (func.coalesce(Member.company, ""), True),
}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _has_role(role: str) -> ColumnElement[bool]:
    return exists().where(MemberRole.member_id == Member.id, MemberRole.role == role)


def _has_tag(session: AsyncSession, tag: str) -> ColumnElement[bool]:
    if session.bind.dialect.name == "postgresql":
        return Member.expertise_tags.op("@>")(func.jsonb_build_array(tag))
    each = func.json_each(Member.expertise_tags).table_valued("value")
    return exists().select_from(each).where(each.c.value == tag)


def directory_statement(
    session: AsyncSession,
    *,
    viewer_id: uuid.UUID,
    sees_members: bool,
    is_admin: bool,
    filters: MemberFilters,
) -> Select[Any]:
    """The members a viewer may list: admins everyone, the directory's audience the members
    who are not erased, anyone else only themselves. Visibility is part of the query."""
    stmt = select(Member)
    if not is_admin:
        if sees_members:
            stmt = stmt.where(
                or_(Member.id == viewer_id,
                    and_(_has_role(Role.member), Member.erased_at.is_(None)))
            )
        else:
            stmt = stmt.where(Member.id == viewer_id)
    f = filters
    if f.function:
        stmt = stmt.where(Member.function == f.function)
    if f.seniority is not None:
        stmt = stmt.where(Member.seniority == f.seniority)
    if f.city:
        stmt = stmt.where(func.lower(Member.city) == f.city.lower())
    if f.industry:
        stmt = stmt.where(func.lower(Member.industry) == f.industry.lower())
    if f.status:
        stmt = stmt.where(Member.status == f.status)
    if f.role:
        stmt = stmt.where(_has_role(f.role))
    if f.tag:
        stmt = stmt.where(_has_tag(session, f.tag))
    if f.q:
        stmt = stmt.where(
            func.lower(Member.full_name).like(f"%{_escape_like(f.q.lower())}%", escape="\\")
        )
    if f.company:
        stmt = stmt.where(
            func.lower(Member.company).like(f"%{_escape_like(f.company.lower())}%", escape="\\")
        )
    if f.email:
        stmt = stmt.where(Member.email_normalized == f.email.strip().lower())
    return stmt


async def list_members(
    session: AsyncSession, stmt: Select[Any], *, sort: str, after: list[Any] | None, limit: int
) -> list[Member]:
    """One page in keyset order; fetches limit+1 to know whether another page follows."""
    column, descending = SORT_KEYS[sort]
    key = tuple_(column, Member.id)
    if after is not None:
        bound = tuple_(*after)
        stmt = stmt.where(key < bound if descending else key > bound)
    if descending:
        stmt = stmt.order_by(column.desc(), Member.id.desc())
    else:
        stmt = stmt.order_by(column, Member.id)
    result = await session.execute(stmt.limit(limit + 1))
    return list(result.scalars())


async def get_member(session: AsyncSession, member_id: uuid.UUID) -> Member | None:
    return await session.get(Member, member_id)


async def get_visible_member(
    session: AsyncSession,
    member_id: uuid.UUID,
    *,
    viewer_id: uuid.UUID,
    sees_members: bool,
    is_admin: bool,
) -> Member | None:
    stmt = directory_statement(
        session, viewer_id=viewer_id, sees_members=sees_members, is_admin=is_admin,
        filters=MemberFilters(),
    ).where(Member.id == member_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_roles(session: AsyncSession, member_id: uuid.UUID) -> list[str]:
    result = await session.execute(
        select(MemberRole.role).where(MemberRole.member_id == member_id).order_by(MemberRole.role)
    )
    return list(result.scalars())


async def replace_roles(session: AsyncSession, member_id: uuid.UUID, roles: Sequence[str]) -> None:
    await session.execute(delete(MemberRole).where(MemberRole.member_id == member_id))
    session.add_all(MemberRole(member_id=member_id, role=role) for role in roles)
    await session.flush()


async def add_consent_changes(session: AsyncSession, changes: list[ConsentChange]) -> None:
    session.add_all(changes)
    await session.flush()


async def consent_history(session: AsyncSession, member_id: uuid.UUID) -> list[ConsentChange]:
    result = await session.execute(
        select(ConsentChange)
        .where(ConsentChange.member_id == member_id)
        .order_by(ConsentChange.changed_at, ConsentChange.id)
    )
    return list(result.scalars())


async def delete_consent_history(session: AsyncSession, member_id: uuid.UUID) -> None:
    await session.execute(delete(ConsentChange).where(ConsentChange.member_id == member_id))


async def refresh_tokens_of(session: AsyncSession, member_id: uuid.UUID) -> list[RefreshToken]:
    result = await session.execute(
        select(RefreshToken)
        .where(RefreshToken.member_id == member_id)
        .order_by(RefreshToken.created_at)
    )
    return list(result.scalars())


EXPORT_ACTIVITY_LIMIT = 1000


async def activity_of(session: AsyncSession, member_id: uuid.UUID) -> list[AuditEntry]:
    result = await session.execute(
        select(AuditEntry)
        .where(or_(AuditEntry.actor_id == member_id, AuditEntry.target_id == member_id))
        .order_by(AuditEntry.occurred_at.desc())
        .limit(EXPORT_ACTIVITY_LIMIT)
    )
    return list(result.scalars())
