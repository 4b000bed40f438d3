"""Who reviews what: reviewers assigned on submission and import, recusal with a replacement,
admins' reassignment, and the job that completes applications waiting for reviewers. The
choice itself is the pure ``app.reviews.assignment``."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.applications import service as application_service
from app.auth.principal import Principal
from app.companies import service as companies_service
from app.companies.names import Aliases, normalize_company
from app.core import audit
from app.core.config import Settings
from app.core.context import RequestContext
from app.core.errors import Conflict, NotFound
from app.models.application import Application, ApplicationStatus
from app.models.review import AssignmentStatus, ReviewAssignment
from app.reviews import repository
from app.reviews import service as review_service
from app.reviews.assignment import Applicant, Candidate, assign_many, choose_reviewers
from app.reviews.schemas import AssignmentRead, ReassignRequest
from app.reviews.service import (
    UNDER_REVIEW,
    AlreadyReviewed,
    ConflictOfInterest,
    NotUnderReview,
)


def _candidates(
    rows: Sequence[tuple[uuid.UUID, str | None, int]], aliases: Aliases
) -> list[Candidate]:
    return [
        Candidate(id=r[0], company_key=normalize_company(r[1], aliases), load=int(r[2]))
        for r in rows
    ]


def _applicant(application: Application, aliases: Aliases) -> Applicant:
    key = normalize_company(application.company, aliases)
    return Applicant(id=application.member_id, company_key=key)


async def _fill(
    session: AsyncSession, application: Application, wanted: int
) -> list[ReviewAssignment]:
    """Bring the application up to ``wanted`` active reviewers; returns the new assignments."""
    aliases = await companies_service.alias_map(session)
    await repository.lock_assignment(session)
    existing = await repository.assignments_of(session, application.id)
    active = sum(1 for a in existing if a.status == AssignmentStatus.active)
    chosen = choose_reviewers(
        _candidates(await repository.reviewer_candidates(session), aliases),
        _applicant(application, aliases),
        count=wanted - active,
        excluded=frozenset(a.reviewer_id for a in existing),
    )
    added = [ReviewAssignment(application_id=application.id, reviewer_id=c.id) for c in chosen]
    session.add_all(added)
    if active + len(added) >= wanted:
        application_service.start_review(application)
    await session.flush()
    return added


@application_service.submitted.follow
async def assign_on_submit(
    session: AsyncSession, settings: Settings, application: Application
) -> None:
    """A submitted application gets its reviewers in the same transaction. With fewer eligible
    reviewers than needed it stays 'submitted' until an admin adds reviewers."""
    await _fill(session, application, settings.reviewers_per_application)


@application_service.imported.follow
async def assign_on_import(
    session: AsyncSession, settings: Settings, applications: Sequence[Application]
) -> None:
    """An imported file's applications get their reviewers from one load snapshot for the
    whole file, updated in memory as reviewers are chosen."""
    aliases = await companies_service.alias_map(session)
    await repository.lock_assignment(session)
    plan = assign_many(
        _candidates(await repository.reviewer_candidates(session), aliases),
        [_applicant(a, aliases) for a in applications],
        count=settings.reviewers_per_application,
    )
    by_member = {a.member_id: a for a in applications}
    rows: list[ReviewAssignment] = []
    for member_id, reviewer_ids in plan.items():
        application = by_member[member_id]
        rows.extend(
            ReviewAssignment(application_id=application.id, reviewer_id=r) for r in reviewer_ids
        )
        if len(reviewer_ids) >= settings.reviewers_per_application:
            application.status = ApplicationStatus.in_review
    session.add_all(rows)


async def recuse(
    session: AsyncSession,
    *,
    principal: Principal,
    context: RequestContext,
    settings: Settings,
    application_id: uuid.UUID,
    reason: str,
) -> None:
    application = await review_service.assigned_application(
        session, principal, application_id, for_update=True
    )
    if application.status not in UNDER_REVIEW:
        raise NotUnderReview("The application is no longer under review.")
    if await repository.review_by(session, application.id, principal.id) is not None:
        raise AlreadyReviewed("You reviewed this application already; ask an admin instead.")
    mine = await repository.assignment(session, application.id, principal.id)
    assert mine is not None  # _assigned_application checked it
    mine.status = AssignmentStatus.recused
    mine.recusal_reason = reason
    mine.ended_at = datetime.now(UTC)
    await session.flush()
    added = await _fill(session, application, settings.reviewers_per_application)
    audit.record(
        session,
        actor_id=principal.id,
        action="review.recused",
        target_type="application",
        target_id=application.id,
        context=context,
        details={"replacements": [str(a.reviewer_id) for a in added]},
    )


async def reassign(
    session: AsyncSession,
    *,
    principal: Principal,
    context: RequestContext,
    settings: Settings,
    application_id: uuid.UUID,
    data: ReassignRequest,
) -> list[AssignmentRead]:
    application = await _admin_application(session, application_id)
    if application.status not in UNDER_REVIEW:
        raise NotUnderReview("Only applications under review can be reassigned.")
    current = await repository.assignment(session, application.id, data.remove_reviewer_id)
    if current is None or current.status != AssignmentStatus.active:
        raise NotFound("That reviewer is not assigned to this application.")
    if await repository.review_by(session, application.id, data.remove_reviewer_id):
        raise AlreadyReviewed("That reviewer has reviewed the application already.")
    current.status = AssignmentStatus.removed
    current.ended_at = datetime.now(UTC)
    await session.flush()
    if data.add_reviewer_id is None:
        await _fill(session, application, settings.reviewers_per_application)
    else:
        await _assign_named(session, application, data.add_reviewer_id)
    audit.record(
        session,
        actor_id=principal.id,
        action="review.reassigned",
        target_type="application",
        target_id=application.id,
        context=context,
        details={
            "removed": str(data.remove_reviewer_id),
            "added": str(data.add_reviewer_id) if data.add_reviewer_id else None,
        },
    )
    return await list_assignments(session, application_id=application.id)


async def _assign_named(
    session: AsyncSession, application: Application, reviewer_id: uuid.UUID
) -> None:
    rows = await repository.reviewer_candidates(session, only=reviewer_id)
    if not rows:
        raise NotFound("No active reviewer with that id.")
    existing = await repository.assignment(session, application.id, reviewer_id)
    if existing is not None and existing.status == AssignmentStatus.active:
        raise Conflict("That reviewer is assigned already.")
    if existing is not None and existing.status == AssignmentStatus.recused:
        raise ConflictOfInterest("That reviewer recused themselves from this application.")
    aliases = await companies_service.alias_map(session)
    picked = choose_reviewers(_candidates(rows, aliases), _applicant(application, aliases), count=1)
    if not picked:
        raise ConflictOfInterest(
            "That reviewer is the applicant or works at the applicant's company."
        )
    if existing is not None:
        existing.status = AssignmentStatus.active
        existing.ended_at = None
        existing.assigned_at = datetime.now(UTC)
    else:
        session.add(ReviewAssignment(application_id=application.id, reviewer_id=reviewer_id))
    application_service.start_review(application)
    await session.flush()


async def list_assignments(
    session: AsyncSession, *, application_id: uuid.UUID
) -> list[AssignmentRead]:
    assignments = await repository.assignments_of(session, application_id)
    reviewed = {r.reviewer_id for r in await repository.reviews_of(session, application_id)}
    return [
        AssignmentRead(
            id=a.id,
            reviewer_id=a.reviewer_id,
            status=AssignmentStatus(a.status),
            recusal_reason=a.recusal_reason,
            assigned_at=a.assigned_at,
            ended_at=a.ended_at,
            reviewed=a.reviewer_id in reviewed,
        )
        for a in assignments
    ]


async def admin_assignments(
    session: AsyncSession, *, application_id: uuid.UUID
) -> list[AssignmentRead]:
    await _admin_application(session, application_id)
    return await list_assignments(session, application_id=application_id)


async def _admin_application(session: AsyncSession, application_id: uuid.UUID) -> Application:
    application = await application_service.find(session, application_id, for_update=True)
    if application is None:
        raise NotFound("No such application.")
    return application


FILL_BATCH = 200


async def fill_waiting_applications(
    session: AsyncSession, settings: Settings, now: datetime
) -> int:
    """Scheduled: applications left 'submitted' for want of eligible reviewers get them once
    reviewers join (or come back). Idempotent: a full application is no longer 'submitted'."""
    filled = 0
    for application in await repository.applications_waiting_for_reviewers(session, FILL_BATCH):
        if await _fill(session, application, settings.reviewers_per_application):
            filled += 1
    return filled
