"""Every query about reviewers, assignments, reviews and the rubric."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.application import Application, ApplicationStatus
from app.models.member import Member, MemberRole, MemberStatus, Role
from app.models.review import AssignmentStatus, Review, ReviewAssignment, RubricCriterion

_UNDER_REVIEW = or_(
    Application.status == ApplicationStatus.submitted,
    Application.status == ApplicationStatus.in_review,
)


def _no_review_yet() -> Any:
    return (
        ~select(Review.id)
        .where(
            Review.application_id == ReviewAssignment.application_id,
            Review.reviewer_id == ReviewAssignment.reviewer_id,
        )
        .exists()
    )


# Any constant key: it names "reviewer assignment" among the advisory locks of this database.
_ASSIGNMENT_LOCK = 0x52455649


async def lock_assignment(session: AsyncSession) -> None:
    """Serialise reviewer choices until the transaction ends (PostgreSQL), so two submissions
    at once do not both pick the same least-loaded reviewer from the same snapshot. SQLite
    serialises writers anyway."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(_ASSIGNMENT_LOCK)))


async def applications_waiting_for_reviewers(
    session: AsyncSession, limit: int
) -> Sequence[Application]:
    """Submitted applications that have fewer reviewers than needed, oldest first, locked
    (rows another worker holds are skipped)."""
    query = (
        select(Application)
        .where(Application.status == ApplicationStatus.submitted)
        .order_by(Application.submitted_at, Application.id)
        .limit(limit)
    )
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list((await session.execute(query)).scalars())


async def reviewer_candidates(
    session: AsyncSession, only: uuid.UUID | None = None
) -> Sequence[Any]:
    """(id, company, open load) of every active reviewer: load counts assignments on
    applications under review that still wait for that reviewer's review."""
    load = (
        select(ReviewAssignment.reviewer_id, func.count().label("load"))
        .join(Application, Application.id == ReviewAssignment.application_id)
        .where(ReviewAssignment.status == AssignmentStatus.active, _UNDER_REVIEW, _no_review_yet())
        .group_by(ReviewAssignment.reviewer_id)
        .subquery()
    )
    query = (
        select(Member.id, Member.company, func.coalesce(load.c.load, 0))
        .join(MemberRole, (MemberRole.member_id == Member.id) & (MemberRole.role == Role.reviewer))
        .outerjoin(load, load.c.reviewer_id == Member.id)
        .where(Member.erased_at.is_(None), Member.status == MemberStatus.active)
    )
    if only is not None:
        query = query.where(Member.id == only)
    return list((await session.execute(query)).all())


async def assignments_of(
    session: AsyncSession, application_id: uuid.UUID
) -> Sequence[ReviewAssignment]:
    result = await session.execute(
        select(ReviewAssignment)
        .where(ReviewAssignment.application_id == application_id)
        .order_by(ReviewAssignment.assigned_at, ReviewAssignment.id)
    )
    return list(result.scalars())


async def assignment(
    session: AsyncSession, application_id: uuid.UUID, reviewer_id: uuid.UUID
) -> ReviewAssignment | None:
    result = await session.execute(
        select(ReviewAssignment).where(
            ReviewAssignment.application_id == application_id,
            ReviewAssignment.reviewer_id == reviewer_id,
        )
    )
    return result.scalar_one_or_none()


async def queue(
    session: AsyncSession,
    reviewer_id: uuid.UUID,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Any]:
    """My open assignments, oldest first: (assigned_at, application id, function, seniority,
    industry)."""
    key = tuple_(ReviewAssignment.assigned_at, ReviewAssignment.application_id)
    query = (
        select(
            ReviewAssignment.assigned_at,
            Application.id,
            Application.function,
            Application.seniority,
            Application.industry,
        )
        .join(Application, Application.id == ReviewAssignment.application_id)
        .where(
            ReviewAssignment.reviewer_id == reviewer_id,
            ReviewAssignment.status == AssignmentStatus.active,
            _UNDER_REVIEW,
            _no_review_yet(),
        )
    )
    if after is not None:
        query = query.where(key > tuple_(*after))
    query = query.order_by(ReviewAssignment.assigned_at, ReviewAssignment.application_id)
    return list((await session.execute(query.limit(limit + 1))).all())


async def reviews_of(session: AsyncSession, application_id: uuid.UUID) -> Sequence[Review]:
    result = await session.execute(
        select(Review)
        .where(Review.application_id == application_id)
        .order_by(Review.submitted_at, Review.id)
    )
    return list(result.scalars())


async def review_by(
    session: AsyncSession, application_id: uuid.UUID, reviewer_id: uuid.UUID
) -> Review | None:
    result = await session.execute(
        select(Review).where(
            Review.application_id == application_id, Review.reviewer_id == reviewer_id
        )
    )
    return result.scalar_one_or_none()


async def get_review(session: AsyncSession, review_id: uuid.UUID) -> Review | None:
    return await session.get(Review, review_id)


async def rubric(session: AsyncSession) -> Sequence[RubricCriterion]:
    result = await session.execute(
        select(RubricCriterion).order_by(RubricCriterion.position, RubricCriterion.key)
    )
    return list(result.scalars())


async def replace_rubric(session: AsyncSession, criteria: list[RubricCriterion]) -> None:
    await session.execute(delete(RubricCriterion))
    session.add_all(criteria)
    await session.flush()


async def all_scores(session: AsyncSession) -> Sequence[Any]:
    """(application id, reviewer id, weighted score) of every review."""
    result = await session.execute(
        select(Review.application_id, Review.reviewer_id, Review.weighted_score)
    )
    return list(result.all())


async def scores_of_reviewers(
    session: AsyncSession, reviewer_ids: Sequence[uuid.UUID]
) -> Sequence[Any]:
    """Every review of the applications these reviewers reviewed (their co-reviewers' too)."""
    applications = select(Review.application_id).where(Review.reviewer_id.in_(reviewer_ids))
    result = await session.execute(
        select(Review.application_id, Review.reviewer_id, Review.weighted_score).where(
            Review.application_id.in_(applications)
        )
    )
    return list(result.all())
