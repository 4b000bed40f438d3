"""/api/v1/reviews (the reviewer's queue, blind reading, reviews, rubric, statistics) and the
routes under /api/v1/applications that hand applications to the council (submit, import,
assignments, reviews)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from app.auth.permissions import AdminPrincipal, require
from app.auth.principal import Principal
from app.core.context import ContextDep, SettingsDep
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from app.core.responses import IfMatch, tagged_response
from app.core.schemas import StrictUUID
from app.models.member import Role
from app.reviews import assigning, service
from app.reviews.schemas import (
    ApplicationReviews,
    AssignmentRead,
    BlindApplication,
    BlindCopyRead,
    BlindCopyUpdate,
    QueueItem,
    ReassignRequest,
    RecusalCreate,
    ReviewAdminRead,
    ReviewCreate,
    ReviewerStatsList,
    ReviewRead,
    ReviewUpdate,
    RubricRead,
    RubricUpdate,
)

router = APIRouter(prefix="/reviews", tags=["reviews"])
applications_router = APIRouter(prefix="/applications", tags=["applications"])

ReviewerPrincipal = Annotated[Principal, Depends(require(Role.reviewer))]
StaffPrincipal = Annotated[Principal, Depends(require(Role.reviewer, Role.admin))]


@applications_router.get(
    "/{application_id}/reviews",
    response_model=ApplicationReviews,
    responses=problem_responses(401, 403, 404, 422),
    operation_id="application_reviews_list",
)
async def list_application_reviews(
    application_id: StrictUUID,
    principal: StaffPrincipal,
    session: SessionDep,
    settings: SettingsDep,
) -> ApplicationReviews:
    """The reviews of an application: every one for admins; for an assigned reviewer, the
    others' only after their own is submitted."""
    return await service.application_reviews(
        session, principal=principal, settings=settings, application_id=application_id
    )


@applications_router.post(
    "/{application_id}/reviews",
    status_code=status.HTTP_201_CREATED,
    response_model=ReviewRead,
    responses=problem_responses(401, 403, 404, 409, 413, 422),
    operation_id="application_reviews_create",
)
async def create_review(
    application_id: StrictUUID,
    body: ReviewCreate,
    reviewer: ReviewerPrincipal,
    session: SessionDep,
    context: ContextDep,
    settings: SettingsDep,
) -> ReviewRead:
    """Submit my review of an application assigned to me; the last one needed settles it."""
    return await service.create_review(
        session,
        principal=reviewer,
        context=context,
        settings=settings,
        application_id=application_id,
        data=body,
    )


@applications_router.get(
    "/{application_id}/assignments",
    response_model=list[AssignmentRead],
    responses=problem_responses(401, 403, 404, 422),
    operation_id="application_assignments_list",
)
async def list_assignments(
    application_id: StrictUUID,
    admin: AdminPrincipal,
    session: SessionDep,
) -> list[AssignmentRead]:
    """Who reviews an application, who recused and why. Admins only."""
    return await assigning.admin_assignments(session, application_id=application_id)


@applications_router.post(
    "/{application_id}/reassign",
    response_model=list[AssignmentRead],
    responses=problem_responses(401, 403, 404, 409, 413, 422),
    operation_id="application_assignments_reassign",
)
async def reassign(
    application_id: StrictUUID,
    body: ReassignRequest,
    admin: AdminPrincipal,
    session: SessionDep,
    context: ContextDep,
    settings: SettingsDep,
) -> list[AssignmentRead]:
    """Take an application from a reviewer and give it to another (named, or the
    least-loaded eligible one). Admins only."""
    return await assigning.reassign(
        session,
        principal=admin,
        context=context,
        settings=settings,
        application_id=application_id,
        data=body,
    )


@router.get(
    "/queue",
    response_model=Page[QueueItem],
    responses=problem_responses(401, 403, 422),
    operation_id="reviews_queue",
)
async def review_queue(
    reviewer: ReviewerPrincipal,
    session: SessionDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[QueueItem]:
    """My open assignments, oldest first."""
    return await service.queue(session, principal=reviewer, cursor=cursor, limit=limit)


@router.get(
    "/rubric",
    response_model=RubricRead,
    responses=problem_responses(401, 403),
    operation_id="reviews_rubric_get",
)
async def get_rubric(staff: StaffPrincipal, session: SessionDep) -> RubricRead:
    """The rubric: the criteria scored 1 to 5 and their weights."""
    return await service.get_rubric(session)


@router.put(
    "/rubric",
    response_model=RubricRead,
    responses=problem_responses(401, 403, 413, 422),
    operation_id="reviews_rubric_update",
)
async def update_rubric(
    body: RubricUpdate,
    admin: AdminPrincipal,
    session: SessionDep,
    context: ContextDep,
) -> RubricRead:
    """Replace the rubric (audited). Admins only."""
    return await service.update_rubric(session, principal=admin, context=context, data=body)


@router.get(
    "/stats",
    response_model=ReviewerStatsList,
    responses=problem_responses(401, 403),
    operation_id="reviews_stats",
)
async def reviewer_stats(admin: AdminPrincipal, session: SessionDep) -> ReviewerStatsList:
    """Per reviewer: open load, reviews, mean score and harshness. Admins only."""
    return await service.reviewer_stats(session)


@router.get(
    "/applications/{application_id}",
    response_model=BlindApplication,
    responses=problem_responses(401, 403, 404, 422),
    operation_id="reviews_application_get",
)
async def read_blind(
    application_id: StrictUUID,
    reviewer: ReviewerPrincipal,
    session: SessionDep,
) -> BlindApplication:
    """An application assigned to me, blind: no name, contacts or links; company and title
    only with the applicant's consent."""
    return await service.blind_view(session, principal=reviewer, application_id=application_id)


@router.get(
    "/applications/{application_id}/blind-copy",
    response_model=BlindCopyRead,
    responses=problem_responses(401, 403, 404, 422),
    operation_id="reviews_blind_copy_get",
)
async def get_blind_copy(
    application_id: StrictUUID, admin: AdminPrincipal, session: SessionDep
) -> BlindCopyRead:
    """What reviewers read of an application's free text (masked, or as edited). Admins."""
    return await service.blind_copy(session, application_id=application_id)


@router.put(
    "/applications/{application_id}/blind-copy",
    response_model=BlindCopyRead,
    responses=problem_responses(401, 403, 404, 409, 413, 422),
    operation_id="reviews_blind_copy_put",
)
async def put_blind_copy(
    application_id: StrictUUID,
    body: BlindCopyUpdate,
    admin: AdminPrincipal,
    session: SessionDep,
    context: ContextDep,
) -> BlindCopyRead:
    """Edit what reviewers will read (an anonymised copy), before the first review; the
    applicant's own text never changes. Admins only."""
    return await service.edit_blind_copy(
        session, admin=admin, context=context, application_id=application_id, data=body
    )


@router.post(
    "/applications/{application_id}/recuse",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 409, 413, 422),
    operation_id="reviews_recuse",
)
async def recuse(
    application_id: StrictUUID,
    body: RecusalCreate,
    reviewer: ReviewerPrincipal,
    session: SessionDep,
    context: ContextDep,
    settings: SettingsDep,
) -> None:
    """Step back from an application assigned to me, with a reason; a replacement is
    assigned."""
    await assigning.recuse(
        session,
        principal=reviewer,
        context=context,
        settings=settings,
        application_id=application_id,
        reason=body.reason,
    )


@router.get(
    "/{review_id}",
    response_model=ReviewRead | ReviewAdminRead,
    responses=problem_responses(401, 403, 404, 422),
    operation_id="reviews_get",
)
async def get_review(
    review_id: StrictUUID,
    principal: StaffPrincipal,
    session: SessionDep,
    request: Request,
) -> Response:
    """Read my review (admins: any)."""
    review = await service.get_review(session, principal=principal, review_id=review_id)
    return tagged_response(review, request)


@router.patch(
    "/{review_id}",
    response_model=ReviewRead,
    responses=problem_responses(401, 403, 404, 409, 412, 413, 422),
    operation_id="reviews_update",
)
async def update_review(
    review_id: StrictUUID,
    body: ReviewUpdate,
    reviewer: ReviewerPrincipal,
    session: SessionDep,
    context: ContextDep,
    settings: SettingsDep,
    request: Request,
    if_match: IfMatch = None,
) -> Response:
    """Edit my review until the application is decided."""
    review = await service.update_review(
        session,
        principal=reviewer,
        context=context,
        settings=settings,
        review_id=review_id,
        data=body,
        if_match=if_match,
    )
    return tagged_response(review, request)
