"""Every query about applications and the decision rule."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.application import Application, ApplicationStatus, DecisionRuleRow
from app.models.member import Member, MemberRole
from app.models.review import AssignmentStatus, Review, ReviewAssignment


class OpenApplicationExists(Exception):
    pass


@dataclass(frozen=True, slots=True)
class ApplicationFilters:
    member_id: uuid.UUID | None = None
    status: str | None = None
    escalated: bool | None = None
    source: str | None = None


async def get(session: AsyncSession, application_id: uuid.UUID) -> Application | None:
    return await session.get(Application, application_id)


async def owner_of(session: AsyncSession, application_id: uuid.UUID) -> uuid.UUID | None:
    """The member an application belongs to (consumers of its events need no more)."""
    return await session.scalar(
        select(Application.member_id).where(Application.id == application_id)
    )


async def ids_of_member(session: AsyncSession, member_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.execute(select(Application.id).where(Application.member_id == member_id))
    return list(rows.scalars())


async def get_for_update(session: AsyncSession, application_id: uuid.UUID) -> Application | None:
    """The application, locked until the transaction ends (PostgreSQL): every change of its
    status, and every review that may settle it, queue here, so exactly one decision is made."""
    result = await session.execute(
        select(Application)
        .where(Application.id == application_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def add(session: AsyncSession, application: Application) -> None:
    session.add(application)
    try:
        await session.flush()
    except IntegrityError as error:
        raise OpenApplicationExists from error


async def list_applications(
    session: AsyncSession,
    *,
    filters: ApplicationFilters,
    descending: bool,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Application]:
    query = select(Application)
    if filters.member_id is not None:
        query = query.where(Application.member_id == filters.member_id)
    if filters.status is not None:
        query = query.where(Application.status == filters.status)
    if filters.escalated is True:
        query = query.where(Application.escalation.is_not(None))
    elif filters.escalated is False:
        query = query.where(Application.escalation.is_(None))
    if filters.source is not None:
        query = query.where(Application.source == filters.source)
    key = tuple_(Application.created_at, Application.id)
    if after is not None:
        query = query.where(key < tuple_(*after) if descending else key > tuple_(*after))
    if descending:
        query = query.order_by(Application.created_at.desc(), Application.id.desc())
    else:
        query = query.order_by(Application.created_at, Application.id)
    return list((await session.execute(query.limit(limit + 1))).scalars())


async def get_rule(session: AsyncSession, *, for_update: bool = False) -> DecisionRuleRow:
    query = select(DecisionRuleRow).where(DecisionRuleRow.id == 1)
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        # The migration seeds it; a database without it is broken, not a client error.
        raise RuntimeError("the decision rule row is missing")
    return row


async def get_member(session: AsyncSession, member_id: uuid.UUID) -> Member | None:
    return await session.get(Member, member_id)


async def grant_member_role(session: AsyncSession, member_id: uuid.UUID) -> None:
    """Add ``member`` and drop ``applicant``: the applicant became a member."""
    roles = set(
        (
            await session.execute(select(MemberRole.role).where(MemberRole.member_id == member_id))
        ).scalars()
    )
    if "member" not in roles:
        session.add(MemberRole(member_id=member_id, role="member"))
    if "applicant" in roles:
        await session.execute(
            MemberRole.__table__.delete().where(
                and_(MemberRole.member_id == member_id, MemberRole.role == "applicant")
            )
        )
    await session.flush()


# --- the funnel ----------------------------------------------------------------------


async def funnel_rows(session: AsyncSession) -> Sequence[Any]:
    """(status, source, utm_campaign, submitted_at, decided_at) of every application: a few
    thousand narrow rows, summarised in Python the same way on both databases."""
    result = await session.execute(
        select(
            Application.status,
            Application.source,
            Application.utm_campaign,
            Application.submitted_at,
            Application.decided_at,
        )
    )
    return list(result.all())


async def outstanding_per_reviewer(session: AsyncSession) -> Sequence[Any]:
    """(reviewer_id, open assignments without a review) for applications under review."""
    no_review = (
        ~select(Review.id)
        .where(
            Review.application_id == ReviewAssignment.application_id,
            Review.reviewer_id == ReviewAssignment.reviewer_id,
        )
        .exists()
    )
    result = await session.execute(
        select(ReviewAssignment.reviewer_id, func.count())
        .join(Application, Application.id == ReviewAssignment.application_id)
        .where(
            ReviewAssignment.status == AssignmentStatus.active,
            or_(
                Application.status == ApplicationStatus.submitted,
                Application.status == ApplicationStatus.in_review,
            ),
            no_review,
        )
        .group_by(ReviewAssignment.reviewer_id)
        .order_by(func.count().desc(), ReviewAssignment.reviewer_id)
    )
    return list(result.all())


# --- bulk import ----------------------------------------------------------------------

_CHUNK = 500  # bound parameters per IN list, well under every driver's limit


async def members_by_email(session: AsyncSession, emails: Sequence[str]) -> list[Member]:
    found: list[Member] = []
    for start in range(0, len(emails), _CHUNK):
        result = await session.execute(
            select(Member).where(Member.email_normalized.in_(emails[start : start + _CHUNK]))
        )
        found.extend(result.scalars())
    return found


async def roles_of_members(
    session: AsyncSession, member_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, set[str]]:
    roles: dict[uuid.UUID, set[str]] = {}
    for start in range(0, len(member_ids), _CHUNK):
        result = await session.execute(
            select(MemberRole.member_id, MemberRole.role).where(
                MemberRole.member_id.in_(member_ids[start : start + _CHUNK])
            )
        )
        for member_id, role in result.all():
            roles.setdefault(member_id, set()).add(role)
    return roles


async def latest_applications(
    session: AsyncSession, member_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Application]:
    """Each member's most recent application, for update (the import may change it)."""
    latest: dict[uuid.UUID, Application] = {}
    for start in range(0, len(member_ids), _CHUNK):
        result = await session.execute(
            select(Application)
            .where(Application.member_id.in_(member_ids[start : start + _CHUNK]))
            .order_by(Application.created_at)
            .with_for_update()
        )
        for application in result.scalars():
            latest[application.member_id] = application
    return latest


async def add_all(session: AsyncSession, rows: Sequence[Any]) -> None:
    session.add_all(rows)
    await session.flush()
