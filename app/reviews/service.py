"""The expert council's reading and judging: blind reading, the queue, reviews against the
rubric, the decision rule run in the transaction of the review that completes the quorum, and
reviewer statistics. Who reviews what is ``app.reviews.assigning``."""

import statistics
import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.applications import service as application_service
from app.applications.decision import Verdict, evaluate, weighted_score
from app.auth.principal import Principal
from app.companies import service as companies_service
from app.core import audit
from app.core.config import Settings
from app.core.context import RequestContext
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.etag import check_if_match, etag_of
from app.core.outbox import emit
from app.core.pagination import Page, decode_time_cursor, encode_time_cursor
from app.models.application import Application, ApplicationStatus, DecidedBy, Escalation
from app.models.member import SENIORITY_LABELS
from app.models.review import AssignmentStatus, Review, RubricCriterion
from app.reviews import events, repository
from app.reviews.blind import redact
from app.reviews.schemas import (
    ApplicationReviews,
    BlindApplication,
    BlindCopyRead,
    BlindCopyUpdate,
    QueueItem,
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
RULE_REJECTION_REASON = (
    "The expert council's assessment fell below the admission threshold. "
    "You are welcome to apply again later."
)


class ReviewExists(Conflict):
    """A second review by the same reviewer (the first is edited instead)."""

    slug, title = "review-exists", "Review already submitted"


class NotUnderReview(Conflict):
    slug, title = "not-under-review", "Application not under review"


class ScoresMismatch(InvalidInput):
    slug, title = "scores-mismatch", "Scores do not match the rubric"


class ConflictOfInterest(Conflict):
    slug, title = "conflict-of-interest", "Reviewer has a conflict of interest"


class AlreadyReviewed(Conflict):
    """An assignment that can no longer end (a recusal, a reassignment): its reviewer has
    reviewed the application."""

    slug, title = "already-reviewed", "Reviewer has already reviewed"


class InvalidRubric(InvalidInput):
    slug, title = "invalid-rubric", "Invalid rubric"


async def assigned_application(
    session: AsyncSession,
    principal: Principal,
    application_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Application:
    """The application if the caller is actively assigned to it; 404 for anyone else."""
    mine = await repository.assignment(session, application_id, principal.id)
    if mine is None or mine.status != AssignmentStatus.active:
        raise NotFound("No such application in your assignments.")
    application = await application_service.find(session, application_id, for_update=for_update)
    if application is None:
        raise NotFound("No such application in your assignments.")
    return application


# --- reading, blind ---------------------------------------------------------------------


BLIND_TEXTS = ("experience_summary", "wants", "gives")


async def _blind_texts(session: AsyncSession, application: Application) -> dict[str, str | None]:
    """The free text as reviewers read it: an admin's edited copy where there is one, else
    the original masked (names, contacts, links, and without consent the company in every
    spelling)."""
    name = await application_service.applicant_name(session, application)
    names = (name,) if name else ()
    hidden = None if application.reviewers_may_see_company else application.company
    aliases = await companies_service.alias_map(session) if hidden else None
    edited = application.blind_copy or {}
    return {
        field: edited[field]
        if field in edited
        else redact(getattr(application, field), names=names, company=hidden, aliases=aliases)
        for field in BLIND_TEXTS
    }


class ReviewsStarted(Conflict):
    slug, title = "reviews-started", "Reviews have started"


async def blind_copy(session: AsyncSession, *, application_id: uuid.UUID) -> BlindCopyRead:
    application = await application_service.find(session, application_id)
    if application is None:
        raise NotFound("No such application.")
    texts = await _blind_texts(session, application)
    return BlindCopyRead(**texts, edited=bool(application.blind_copy))


async def edit_blind_copy(
    session: AsyncSession,
    *,
    admin: Principal,
    context: RequestContext,
    application_id: uuid.UUID,
    data: BlindCopyUpdate,
) -> BlindCopyRead:
    """Edit what reviewers will read, before the first review: the applicant's own text is
    never changed."""
    application = await application_service.find(session, application_id, for_update=True)
    if application is None:
        raise NotFound("No such application.")
    if await repository.reviews_of(session, application.id):
        raise ReviewsStarted("A review is in already: what reviewers read no longer changes.")
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    application.blind_copy = {**(application.blind_copy or {}), **changes} or None
    audit.record(
        session,
        actor_id=admin.id,
        action="application.blind_copy_edited",
        target_type="application",
        target_id=application.id,
        context=context,
        details={"fields": sorted(changes)},
    )
    await session.flush()
    return await blind_copy(session, application_id=application.id)


async def blind_view(
    session: AsyncSession, *, principal: Principal, application_id: uuid.UUID
) -> BlindApplication:
    application = await assigned_application(session, principal, application_id)
    mine = await repository.assignment(session, application_id, principal.id)
    assert mine is not None
    review = await repository.review_by(session, application_id, principal.id)
    consent = application.reviewers_may_see_company
    texts = await _blind_texts(session, application)
    return BlindApplication(
        id=application.id,
        status=ApplicationStatus(application.status),
        function=application.function,
        seniority=application.seniority,
        seniority_label=SENIORITY_LABELS.get(application.seniority or 0),
        industry=application.industry,
        years_in_management=application.years_in_management,
        team_size=application.team_size,
        company=application.company if consent else None,
        job_title=application.job_title if consent else None,
        experience_summary=texts["experience_summary"],
        wants=texts["wants"],
        gives=texts["gives"],
        submitted_at=application.submitted_at,
        assigned_at=mine.assigned_at,
        my_review_id=review.id if review else None,
    )


async def queue(
    session: AsyncSession, *, principal: Principal, cursor: str | None, limit: int
) -> Page[QueueItem]:
    after = decode_time_cursor(cursor, "queue")
    rows = await repository.queue(session, principal.id, after=after, limit=limit)
    page, more = rows[:limit], len(rows) > limit
    items = [
        QueueItem(
            application_id=r[1], assigned_at=r[0], function=r[2], seniority=r[3], industry=r[4]
        )
        for r in page
    ]
    next_cursor = None
    if more:
        next_cursor = encode_time_cursor("queue", page[-1][0], page[-1][1])
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
            f"unknown: {unknown or 'none'}."
        )
    return round(weighted_score(scores, weights), 4)


def review_view(review: Review, principal: Principal) -> ReviewRead:
    fields = {
        "id": review.id,
        "application_id": review.application_id,
        "scores": dict(review.scores),
        "weighted_score": review.weighted_score,
        "recommendation": review.recommendation,
        "confidence": review.confidence,
        "comment": review.comment,
        "mine": review.reviewer_id == principal.id,
        "version": review.version,
        "submitted_at": review.submitted_at,
        "updated_at": review.updated_at,
    }
    if principal.is_admin:
        return ReviewAdminRead(**fields, reviewer_id=review.reviewer_id)
    return ReviewRead(**fields)


async def create_review(
    session: AsyncSession,
    *,
    principal: Principal,
    context: RequestContext,
    settings: Settings,
    application_id: uuid.UUID,
    data: ReviewCreate,
) -> ReviewRead:
    # The lock on the application serialises the reviews that may complete the quorum.
    application = await assigned_application(session, principal, application_id, for_update=True)
    if application.status not in UNDER_REVIEW:
        raise NotUnderReview("The application has been decided or withdrawn.")
    if await repository.review_by(session, application.id, principal.id) is not None:
        raise ReviewExists("You reviewed this application already; edit your review instead.")
    review = Review(
        application_id=application.id,
        reviewer_id=principal.id,
        scores=dict(data.scores),
        weighted_score=_score(dict(data.scores), await _weights(session)),
        recommendation=data.recommendation,
        confidence=data.confidence,
        comment=data.comment,
    )
    session.add(review)
    await session.flush()
    emit(
        session,
        events.SUBMITTED,
        events.ReviewSubmitted(id=review.id, version=review.version, application_id=application.id),
    )
    await _run_rule(session, settings, application, context)
    return review_view(review, principal)


async def update_review(
    session: AsyncSession,
    *,
    principal: Principal,
    context: RequestContext,
    settings: Settings,
    review_id: uuid.UUID,
    data: ReviewUpdate,
    if_match: str | None,
) -> ReviewRead:
    review = await repository.get_review(session, review_id)
    if review is None or review.reviewer_id != principal.id:
        raise NotFound("No such review.")
    application = await application_service.find(session, review.application_id, for_update=True)
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
    await _run_rule(session, settings, application, context)
    return review_view(review, principal)


async def _run_rule(
    session: AsyncSession, settings: Settings, application: Application, context: RequestContext
) -> None:
    """Decide or escalate when the quorum is reached, in this same transaction."""
    reviews = await repository.reviews_of(session, application.id)
    outcome = evaluate(
        await application_service.current_rule(session), [r.weighted_score for r in reviews]
    )
    if outcome.verdict == Verdict.pending:
        return
    if outcome.verdict == Verdict.approve:
        await application_service.settle(
            session,
            settings,
            application,
            status=ApplicationStatus.approved,
            decided_by=DecidedBy.rule,
            reason=None,
            actor_id=None,
            context=context,
        )
    elif outcome.verdict == Verdict.reject:
        await application_service.settle(
            session,
            settings,
            application,
            status=ApplicationStatus.rejected,
            decided_by=DecidedBy.rule,
            reason=RULE_REJECTION_REASON,
            actor_id=None,
            context=context,
        )
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
    session: AsyncSession,
    *,
    principal: Principal,
    settings: Settings,
    application_id: uuid.UUID,
) -> ApplicationReviews:
    """Admins see every review; an assigned reviewer sees the others' only once their own is
    in (when the setting says so); the applicant never sees reviews."""
    if principal.is_admin:
        application = await application_service.find(session, application_id)
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
    if (
        not principal.is_admin
        and settings.reviews_hidden_until_own_submitted
        and not any(r.reviewer_id == principal.id for r in reviews)
    ):
        hidden = bool(visible)
        visible = []
    normalised = None
    if principal.is_admin and reviews:
        rows = await repository.scores_of_reviewers(session, [r.reviewer_id for r in reviews])
        normalised = normalised_scores(Scored(*row) for row in rows).get(application_id)
    return ApplicationReviews(
        items=[review_view(r, principal) for r in visible],
        others_hidden=hidden,
        mean_score=statistics.fmean(r.weighted_score for r in visible) if visible else None,
        normalised_score=normalised,
    )


# --- the rubric -------------------------------------------------------------------------


async def get_rubric(session: AsyncSession) -> RubricRead:
    return RubricRead(
        criteria=[RubricCriterionRead.model_validate(c) for c in await repository.rubric(session)]
    )


async def update_rubric(
    session: AsyncSession,
    *,
    principal: Principal,
    context: RequestContext,
    data: RubricUpdate,
) -> RubricRead:
    keys = [c.key for c in data.criteria]
    if len(set(keys)) != len(keys):
        raise InvalidRubric("Each criterion key may appear once.")
    # Reviews already saved keep the weighted score they were given; edits recompute theirs.
    await repository.replace_rubric(
        session,
        [
            RubricCriterion(
                key=c.key, title=c.title, description=c.description, weight=c.weight, position=i
            )
            for i, c in enumerate(data.criteria)
        ],
    )
    audit.record(
        session,
        actor_id=principal.id,
        action="rubric.updated",
        target_type="rubric",
        target_id=None,
        context=context,
        details={"criteria": {c.key: c.weight for c in data.criteria}},
    )
    return await get_rubric(session)


# --- statistics -------------------------------------------------------------------------


async def reviewer_stats(session: AsyncSession) -> ReviewerStatsList:
    candidates = await repository.reviewer_candidates(session)
    figures = reviewer_figures(Scored(*row) for row in await repository.all_scores(session))
    items = []
    for reviewer_id, _company, load in candidates:
        f = figures.get(reviewer_id)
        items.append(
            ReviewerStats(
                reviewer_id=reviewer_id,
                open_assignments=int(load),
                reviews=f.reviews if f else 0,
                mean_score=f.mean_score if f else None,
                harshness=f.harshness if f else None,
            )
        )
    items.sort(key=lambda s: (-s.open_assignments, str(s.reviewer_id)))
    return ReviewerStatsList(items=items)
