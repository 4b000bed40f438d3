"""The expert council: assignment on submit, recusal and reassignment, blind reading, reviews
against the rubric, the decision rule run in the transaction of the review that completes the
quorum, and reviewer statistics."""

import statistics
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.applications import service as application_service
from app.applications.decision import Verdict, evaluate, weighted_score
from app.applications.schemas import ApplicationRead, ImportReport
from app.auth.principal import Principal
from app.core import audit
from app.core.config import Settings
from app.core.context import RequestContext
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.etag import check_if_match, etag_of
from app.core.outbox import emit
from app.core.pagination import InvalidCursor, Page, decode_cursor, encode_cursor
from app.members.companies import normalize_company
from app.models.application import Application, ApplicationStatus, DecidedBy, Escalation
from app.models.member import SENIORITY_LABELS
from app.models.review import AssignmentStatus, Review, ReviewAssignment, RubricCriterion
from app.reviews import events, repository
from app.reviews.assignment import Applicant, Candidate, assign_many, choose_reviewers
from app.reviews.blind import redact
from app.reviews.schemas import (
    ApplicationReviews,
    AssignmentRead,
    BlindApplication,
    QueueItem,
    ReassignRequest,
    ReviewAdminRead,
    ReviewCreate,
    ReviewerStats,
    ReviewerStatsList,
    ReviewRead,
    ReviewUpdate,
    RubricCriterionRead,
    RubricRead,
    RubricUpdate,
)
from app.reviews.stats import Scored, normalised_scores, reviewer_figures

UNDER_REVIEW = (ApplicationStatus.submitted, ApplicationStatus.in_review)
RULE_REJECTION_REASON = ("The expert council's assessment fell below the admission threshold. "
                         "You are welcome to apply again later.")


class ReviewExists(Conflict):
    slug, title = "review-exists", "Review already submitted"


class NotUnderReview(Conflict):
    slug, title = "not-under-review", "Application not under review"


class ScoresMismatch(InvalidInput):
    slug, title = "scores-mismatch", "Scores do not match the rubric"


class ConflictOfInterest(Conflict):
    slug, title = "conflict-of-interest", "Reviewer has a conflict of interest"


class AlreadyReviewed(Conflict):
    slug, title = "already-reviewed", "Review already submitted"


class InvalidRubric(InvalidInput):
    slug, title = "invalid-rubric", "Invalid rubric"


# --- assignment -------------------------------------------------------------------------


def _candidates(rows: Sequence[tuple[uuid.UUID, str | None, int]]) -> list[Candidate]:
    return [Candidate(id=r[0], company_key=normalize_company(r[1]), load=int(r[2])) for r in rows]


def _applicant(application: Application) -> Applicant:
    return Applicant(id=application.member_id, company_key=normalize_company(application.company))


async def _fill(
    session: AsyncSession, application: Application, wanted: int
) -> list[ReviewAssignment]:
    """Bring the application up to ``wanted`` active reviewers; returns the new assignments."""
    await repository.lock_assignment(session)
    existing = await repository.assignments_of(session, application.id)
    active = sum(1 for a in existing if a.status == AssignmentStatus.active)
    chosen = choose_reviewers(
        _candidates(await repository.reviewer_candidates(session)), _applicant(application),
        count=wanted - active, excluded=frozenset(a.reviewer_id for a in existing),
    )
    added = [ReviewAssignment(application_id=application.id, reviewer_id=c.id) for c in chosen]
    session.add_all(added)
    if active + len(added) >= wanted:
        application_service.start_review(application)
    await session.flush()
    return added


async def submit(
    session: AsyncSession, *, principal: Principal, context: RequestContext, settings: Settings,
    application_id: uuid.UUID,
) -> ApplicationRead:
    """Submit my draft: reviewers are assigned in the same transaction. With fewer eligible
    reviewers than needed it stays 'submitted' until an admin adds reviewers."""
    application = await application_service.load_own(session, principal, application_id)
    application_service.mark_submitted(application)
    await _fill(session, application, settings.reviewers_per_application)
    application_service.announce_submitted(session, application)
    audit.record(session, actor_id=principal.id, action="application.submitted",
                 target_type="application", target_id=application.id, context=context)
    await session.flush()
    return application_service.owner_view(application)


async def import_applications(
    session: AsyncSession, *, principal: Principal, context: RequestContext, settings: Settings,
    content: bytes,
) -> ImportReport:
    result = await application_service.import_rows(
        session, principal=principal, context=context, content=content,
        max_rows=settings.application_import_max_rows)
    if result.submitted:
        # One load snapshot for the whole file, updated in memory as reviewers are chosen.
        await repository.lock_assignment(session)
        plan = assign_many(
            _candidates(await repository.reviewer_candidates(session)),
            [_applicant(a) for a in result.submitted], count=settings.reviewers_per_application)
        by_member = {a.member_id: a for a in result.submitted}
        rows: list[ReviewAssignment] = []
        for member_id, reviewer_ids in plan.items():
            application = by_member[member_id]
            rows.extend(ReviewAssignment(application_id=application.id, reviewer_id=r)
                        for r in reviewer_ids)
            if len(reviewer_ids) >= settings.reviewers_per_application:
                application.status = ApplicationStatus.in_review
        session.add_all(rows)
        for application in result.submitted:
            application_service.announce_submitted(session, application)
        await session.flush()
    return result.report


async def recuse(
    session: AsyncSession, *, principal: Principal, context: RequestContext, settings: Settings,
    application_id: uuid.UUID, reason: str,
) -> None:
    application = await _assigned_application(session, principal, application_id,
                                              for_update=True)
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
    audit.record(session, actor_id=principal.id, action="review.recused",
                 target_type="application", target_id=application.id, context=context,
                 details={"replacements": [str(a.reviewer_id) for a in added]})


async def reassign(
    session: AsyncSession, *, principal: Principal, context: RequestContext, settings: Settings,
    application_id: uuid.UUID, data: ReassignRequest,
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
    audit.record(session, actor_id=principal.id, action="review.reassigned",
                 target_type="application", target_id=application.id, context=context,
                 details={"removed": str(data.remove_reviewer_id),
                          "added": str(data.add_reviewer_id) if data.add_reviewer_id else None})
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
    picked = choose_reviewers(_candidates(rows), _applicant(application), count=1)
    if not picked:
        raise ConflictOfInterest(
            "That reviewer is the applicant or works at the applicant's company.")
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
    return [AssignmentRead(
        id=a.id, reviewer_id=a.reviewer_id, status=AssignmentStatus(a.status),
        recusal_reason=a.recusal_reason, assigned_at=a.assigned_at, ended_at=a.ended_at,
        reviewed=a.reviewer_id in reviewed) for a in assignments]


async def admin_assignments(
    session: AsyncSession, *, application_id: uuid.UUID
) -> list[AssignmentRead]:
    await _admin_application(session, application_id)
    return await list_assignments(session, application_id=application_id)


async def _admin_application(session: AsyncSession, application_id: uuid.UUID) -> Application:
    application = await application_service.repository.get_for_update(session, application_id)
    if application is None:
        raise NotFound("No such application.")
    return application


async def _assigned_application(
    session: AsyncSession, principal: Principal, application_id: uuid.UUID, *,
    for_update: bool = False,
) -> Application:
    """The application if the caller is actively assigned to it; 404 for anyone else."""
    mine = await repository.assignment(session, application_id, principal.id)
    if mine is None or mine.status != AssignmentStatus.active:
        raise NotFound("No such application in your assignments.")
    getter = (application_service.repository.get_for_update if for_update
              else application_service.repository.get)
    application = await getter(session, application_id)
    if application is None:
        raise NotFound("No such application in your assignments.")
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


# --- reading, blind ---------------------------------------------------------------------


async def blind_view(
    session: AsyncSession, *, principal: Principal, application_id: uuid.UUID
) -> BlindApplication:
    application = await _assigned_application(session, principal, application_id)
    mine = await repository.assignment(session, application_id, principal.id)
    assert mine is not None
    member = await application_service.repository.get_member(session, application.member_id)
    names = (member.full_name,) if member and member.full_name else ()
    review = await repository.review_by(session, application_id, principal.id)
    consent = application.reviewers_may_see_company
    return BlindApplication(
        id=application.id, status=ApplicationStatus(application.status),
        function=application.function, seniority=application.seniority,
        seniority_label=SENIORITY_LABELS.get(application.seniority or 0),
        industry=application.industry, years_in_management=application.years_in_management,
        team_size=application.team_size,
        company=application.company if consent else None,
        job_title=application.job_title if consent else None,
        experience_summary=redact(application.experience_summary, names=names),
        wants=redact(application.wants, names=names),
        gives=redact(application.gives, names=names),
        submitted_at=application.submitted_at, assigned_at=mine.assigned_at,
        my_review_id=review.id if review else None,
    )


async def queue(
    session: AsyncSession, *, principal: Principal, cursor: str | None, limit: int
) -> Page[QueueItem]:
    after = None
    if cursor:
        raw_time, raw_id = decode_cursor(cursor, "queue", 2)
        try:
            moment = datetime.fromisoformat(str(raw_time))
            if moment.tzinfo is None:
                raise ValueError("naive timestamp")
            after = (moment, uuid.UUID(str(raw_id)))
        except (TypeError, ValueError) as error:
            raise InvalidCursor("The cursor is malformed.") from error
    rows = await repository.queue(session, principal.id, after=after, limit=limit)
    page, more = rows[:limit], len(rows) > limit
    items = [QueueItem(application_id=r[1], assigned_at=r[0], function=r[2], seniority=r[3],
                       industry=r[4]) for r in page]
    next_cursor = None
    if more:
        next_cursor = encode_cursor("queue", [page[-1][0].isoformat(), str(page[-1][1])])
    return Page[QueueItem](items=items, next_cursor=next_cursor)


# --- reviews ----------------------------------------------------------------------------


async def _weights(session: AsyncSession) -> dict[str, float]:
    return {c.key: c.weight for c in await repository.rubric(session)}


def _score(scores: dict[str, int], weights: dict[str, float]) -> float:
    if set(scores) != set(weights):
        missing = sorted(set(weights) - set(scores))
        unknown = sorted(set(scores) - set(weights))
        raise ScoresMismatch(
            f"Score every rubric criterion once. Missing: {missing or 'none'}; "
            f"unknown: {unknown or 'none'}.")
    return round(weighted_score(scores, weights), 4)


def review_view(review: Review, principal: Principal) -> ReviewRead:
    fields = {
        "id": review.id, "application_id": review.application_id,
        "scores": dict(review.scores), "weighted_score": review.weighted_score,
        "recommendation": review.recommendation, "confidence": review.confidence,
        "comment": review.comment, "mine": review.reviewer_id == principal.id,
        "version": review.version, "submitted_at": review.submitted_at,
        "updated_at": review.updated_at,
    }
    if principal.is_admin:
        return ReviewAdminRead(**fields, reviewer_id=review.reviewer_id)
    return ReviewRead(**fields)


async def create_review(
    session: AsyncSession, *, principal: Principal, context: RequestContext,
    application_id: uuid.UUID, data: ReviewCreate,
) -> ReviewRead:
    # The lock on the application serialises the reviews that may complete the quorum.
    application = await _assigned_application(session, principal, application_id,
                                              for_update=True)
    if application.status not in UNDER_REVIEW:
        raise NotUnderReview("The application has been decided or withdrawn.")
    if await repository.review_by(session, application.id, principal.id) is not None:
        raise ReviewExists("You reviewed this application already; edit your review instead.")
    review = Review(
        application_id=application.id, reviewer_id=principal.id, scores=dict(data.scores),
        weighted_score=_score(dict(data.scores), await _weights(session)),
        recommendation=data.recommendation, confidence=data.confidence, comment=data.comment,
    )
    session.add(review)
    await session.flush()
    emit(session, events.SUBMITTED, events.ReviewSubmitted(
        id=review.id, version=review.version, application_id=application.id))
    await _run_rule(session, application, context)
    return review_view(review, principal)


async def update_review(
    session: AsyncSession, *, principal: Principal, context: RequestContext,
    review_id: uuid.UUID, data: ReviewUpdate, if_match: str | None,
) -> ReviewRead:
    review = await repository.get_review(session, review_id)
    if review is None or review.reviewer_id != principal.id:
        raise NotFound("No such review.")
    application = await application_service.repository.get_for_update(
        session, review.application_id)
    assert application is not None  # the foreign key holds it
    check_if_match(if_match, etag_of(review_view(review, principal)))
    if application.status not in UNDER_REVIEW:
        raise NotUnderReview("The application has been decided; reviews are final.")
    changes = data.model_dump(exclude_unset=True)
    for name in ("recommendation", "confidence"):
        if changes.get(name) is None:
            changes.pop(name, None)
    if "scores" in changes and changes["scores"] is not None:
        review.scores = dict(changes.pop("scores"))
    changes.pop("scores", None)
    for name, value in changes.items():
        setattr(review, name, value)
    review.weighted_score = _score(dict(review.scores), await _weights(session))
    review.version += 1
    review.updated_at = datetime.now(UTC)
    await session.flush()
    await _run_rule(session, application, context)
    return review_view(review, principal)


async def _run_rule(
    session: AsyncSession, application: Application, context: RequestContext
) -> None:
    """Decide or escalate when the quorum is reached, in this same transaction."""
    reviews = await repository.reviews_of(session, application.id)
    outcome = evaluate(await application_service.current_rule(session),
                       [r.weighted_score for r in reviews])
    if outcome.verdict == Verdict.pending:
        return
    if outcome.verdict == Verdict.approve:
        await application_service.settle(
            session, application, status=ApplicationStatus.approved, decided_by=DecidedBy.rule,
            reason=None, actor_id=None, context=context)
    elif outcome.verdict == Verdict.reject:
        await application_service.settle(
            session, application, status=ApplicationStatus.rejected, decided_by=DecidedBy.rule,
            reason=RULE_REJECTION_REASON, actor_id=None, context=context)
    else:
        application_service.escalate(session, application, Escalation(outcome.verdict.value))
        await session.flush()


async def get_review(
    session: AsyncSession, *, principal: Principal, review_id: uuid.UUID
) -> ReviewRead:
    review = await repository.get_review(session, review_id)
    if review is None or (review.reviewer_id != principal.id and not principal.is_admin):
        raise NotFound("No such review.")
    return review_view(review, principal)


async def application_reviews(
    session: AsyncSession, *, principal: Principal, settings: Settings,
    application_id: uuid.UUID,
) -> ApplicationReviews:
    """Admins see every review; an assigned reviewer sees the others' only once their own is
    in (when the setting says so); the applicant never sees reviews."""
    if principal.is_admin:
        application = await application_service.repository.get(session, application_id)
        if application is None:
            raise NotFound("No such application.")
    else:
        # Only a reviewer still on the application: one who recused or was removed has a
        # reason not to see what the others wrote.
        mine = await repository.assignment(session, application_id, principal.id)
        if mine is None or mine.status != AssignmentStatus.active:
            raise NotFound("No such application in your assignments.")
    reviews = await repository.reviews_of(session, application_id)
    visible = list(reviews)
    hidden = False
    if not principal.is_admin and settings.reviews_hidden_until_own_submitted and not any(
            r.reviewer_id == principal.id for r in reviews):
        hidden = bool(visible)
        visible = []
    normalised = None
    if principal.is_admin and reviews:
        rows = await repository.scores_of_reviewers(session, [r.reviewer_id for r in reviews])
        normalised = normalised_scores(Scored(*row) for row in rows).get(application_id)
    return ApplicationReviews(
        items=[review_view(r, principal) for r in visible], others_hidden=hidden,
        mean_score=statistics.fmean(r.weighted_score for r in visible) if visible else None,
        normalised_score=normalised,
    )


# --- the rubric -------------------------------------------------------------------------


async def get_rubric(session: AsyncSession) -> RubricRead:
    return RubricRead(criteria=[RubricCriterionRead.model_validate(c)
                                for c in await repository.rubric(session)])


async def update_rubric(
    session: AsyncSession, *, principal: Principal, context: RequestContext, data: RubricUpdate,
) -> RubricRead:
    keys = [c.key for c in data.criteria]
    if len(set(keys)) != len(keys):
        raise InvalidRubric("Each criterion key may appear once.")
    # Reviews already saved keep the weighted score they were given; edits recompute theirs.
    await repository.replace_rubric(session, [
        RubricCriterion(key=c.key, title=c.title, description=c.description, weight=c.weight,
                        position=i) for i, c in enumerate(data.criteria)])
    audit.record(session, actor_id=principal.id, action="rubric.updated",
                 target_type="rubric", target_id=None, context=context,
                 details={"criteria": {c.key: c.weight for c in data.criteria}})
    return await get_rubric(session)


# --- statistics -------------------------------------------------------------------------


async def reviewer_stats(session: AsyncSession) -> ReviewerStatsList:
    candidates = await repository.reviewer_candidates(session)
    figures = reviewer_figures(Scored(*row) for row in await repository.all_scores(session))
    items = []
    for reviewer_id, _company, load in candidates:
        f = figures.get(reviewer_id)
        items.append(ReviewerStats(
            reviewer_id=reviewer_id, open_assignments=int(load),
            reviews=f.reviews if f else 0, mean_score=f.mean_score if f else None,
            harshness=f.harshness if f else None))
    items.sort(key=lambda s: (-s.open_assignments, str(s.reviewer_id)))
    return ReviewerStatsList(items=items)
