"""/api/v1/cases: members bring cases to the board, tables advise, authors rate and report
what happened; /api/v1/me/recommendations is the advice I gave."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.auth.permissions import AdminPrincipal, CommunityPrincipal
from app.cases import service
from app.cases.schemas import (
    CaseCreate,
    CaseDecline,
    CaseOutcome,
    CaseRead,
    CaseStats,
    CaseUpdate,
    RecommendationCreate,
    RecommendationRating,
    RecommendationRead,
)
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from app.core.responses import NOT_MODIFIED, json_response, tagged_response
from app.core.schemas import StrictUUID
from app.models.case import CaseStatus

router = APIRouter(prefix="/cases", tags=["cases"])
me_router = APIRouter(prefix="/me", tags=["cases"])

WRITE_PROBLEMS = problem_responses(401, 403, 404, 409, 413, 422)
Search = Annotated[
    str | None,
    Query(min_length=1, max_length=100, description="Words in the title or the question."),
]


class RecommendationList(Page[RecommendationRead]):
    pass


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CaseRead,
    responses=WRITE_PROBLEMS,
    operation_id="cases_create",
)
async def create_case(
    body: CaseCreate, principal: CommunityPrincipal, session: SessionDep
) -> Response:
    """Bring a case to an event: a draft, or submitted at once with `submit`."""
    return json_response(
        await service.create(session, principal=principal, body=body),
        status_code=status.HTTP_201_CREATED,
    )


@router.get(
    "",
    response_model=Page[CaseRead],
    responses=problem_responses(401, 403, 422),
    operation_id="cases_list",
)
async def list_cases(
    principal: CommunityPrincipal,
    session: SessionDep,
    event_id: StrictUUID | None = None,
    case_status: Annotated[CaseStatus | None, Query(alias="status")] = None,
    mine: Annotated[bool, Query(description="Only the cases I brought.")] = False,
    q: Search = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Response:
    """Cases I may see, newest first: my own, and others' as their visibility allows."""
    return json_response(
        await service.list_cases(
            session,
            principal=principal,
            event_id=event_id,
            status=case_status,
            author_id=principal.id if mine else None,
            search=q,
            cursor=cursor,
            limit=limit,
        )
    )


@router.get(
    "/export",
    response_class=Response,
    operation_id="cases_export",
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "The cases as CSV.",
        },
        **problem_responses(401, 403, 422),
    },
)
async def export_cases(
    principal: CommunityPrincipal, session: SessionDep, event_id: StrictUUID | None = None
) -> Response:
    """The cases I may see as CSV (visibility applies here as everywhere)."""
    body = await service.export_csv(session, principal=principal, event_id=event_id)
    return Response(
        body.encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="cases.csv"'},
    )


@router.get(
    "/stats",
    response_model=CaseStats,
    responses=problem_responses(401, 403, 422),
    operation_id="cases_stats",
)
async def case_stats(
    admin: AdminPrincipal, session: SessionDep, event_id: StrictUUID | None = None
) -> Response:
    """Share of discussed cases with a reported outcome, and mean usefulness of the advice,
    overall, by table and by facilitator. Admins only."""
    return json_response(await service.stats(session, event_id=event_id))


@router.get(
    "/{case_id}",
    response_model=CaseRead,
    responses={**problem_responses(401, 403, 404, 422), **NOT_MODIFIED},
    operation_id="cases_get",
)
async def get_case(
    case_id: StrictUUID, principal: CommunityPrincipal, session: SessionDep, request: Request
) -> Response:
    """One case (ETag); 404 for a case I may not see."""
    return tagged_response(
        await service.get(session, principal=principal, case_id=case_id), request
    )


@router.patch(
    "/{case_id}", response_model=CaseRead, responses=WRITE_PROBLEMS, operation_id="cases_update"
)
async def update_case(
    case_id: StrictUUID, body: CaseUpdate, principal: CommunityPrincipal, session: SessionDep
) -> Response:
    """Edit my case while it is a draft or submitted."""
    return json_response(
        await service.update(session, principal=principal, case_id=case_id, body=body)
    )


@router.post(
    "/{case_id}/submit",
    response_model=CaseRead,
    responses=WRITE_PROBLEMS,
    operation_id="cases_submit",
)
async def submit_case(
    case_id: StrictUUID, principal: CommunityPrincipal, session: SessionDep
) -> Response:
    """Submit my draft for acceptance."""
    return json_response(await service.submit(session, principal=principal, case_id=case_id))


@router.post(
    "/{case_id}/withdraw",
    response_model=CaseRead,
    responses=WRITE_PROBLEMS,
    operation_id="cases_withdraw",
)
async def withdraw_case(
    case_id: StrictUUID, principal: CommunityPrincipal, session: SessionDep
) -> Response:
    """Withdraw my case."""
    return json_response(await service.withdraw(session, principal=principal, case_id=case_id))


@router.post(
    "/{case_id}/accept",
    response_model=CaseRead,
    responses=WRITE_PROBLEMS,
    operation_id="cases_accept",
)
async def accept_case(
    case_id: StrictUUID, principal: CommunityPrincipal, session: SessionDep
) -> Response:
    """Accept a submitted case (admins, facilitators); scheduled at once if seated."""
    return json_response(await service.accept(session, principal=principal, case_id=case_id))


@router.post(
    "/{case_id}/decline",
    response_model=CaseRead,
    responses=WRITE_PROBLEMS,
    operation_id="cases_decline",
)
async def decline_case(
    case_id: StrictUUID, body: CaseDecline, principal: CommunityPrincipal, session: SessionDep
) -> Response:
    """Decline a case with a reason (admins, facilitators)."""
    return json_response(
        await service.decline(session, principal=principal, case_id=case_id, reason=body.reason)
    )


@router.post(
    "/{case_id}/discussed",
    response_model=CaseRead,
    responses=WRITE_PROBLEMS,
    operation_id="cases_mark_discussed",
)
async def mark_discussed(
    case_id: StrictUUID, principal: CommunityPrincipal, session: SessionDep
) -> Response:
    """The board discussed the case (its table's facilitator, or an admin)."""
    return json_response(
        await service.mark_discussed(session, principal=principal, case_id=case_id)
    )


@router.post(
    "/{case_id}/outcome",
    response_model=CaseRead,
    responses=WRITE_PROBLEMS,
    operation_id="cases_report_outcome",
)
async def report_outcome(
    case_id: StrictUUID, body: CaseOutcome, principal: CommunityPrincipal, session: SessionDep
) -> Response:
    """Weeks later, the author records what they did and what happened."""
    return json_response(
        await service.report_outcome(session, principal=principal, case_id=case_id, body=body)
    )


@router.post(
    "/{case_id}/recommendations",
    status_code=status.HTTP_201_CREATED,
    response_model=RecommendationRead,
    responses=WRITE_PROBLEMS,
    operation_id="recommendations_create",
)
async def add_recommendation(
    case_id: StrictUUID,
    body: RecommendationCreate,
    principal: CommunityPrincipal,
    session: SessionDep,
) -> Response:
    """Advise the case from experience (its table's members and facilitator)."""
    return json_response(
        await service.add_recommendation(session, principal=principal, case_id=case_id, body=body),
        status_code=status.HTTP_201_CREATED,
    )


@router.get(
    "/{case_id}/recommendations",
    response_model=RecommendationList,
    responses=problem_responses(401, 403, 404, 422),
    operation_id="recommendations_list",
)
async def list_recommendations(
    case_id: StrictUUID, principal: CommunityPrincipal, session: SessionDep
) -> Response:
    """The advice a case received, oldest first; visible as the case is."""
    items = await service.recommendations(session, principal=principal, case_id=case_id)
    return json_response(RecommendationList(items=items, next_cursor=None))


@router.put(
    "/{case_id}/recommendations/{recommendation_id}/rating",
    response_model=RecommendationRead,
    responses=WRITE_PROBLEMS,
    operation_id="recommendations_rate",
)
async def rate_recommendation(
    case_id: StrictUUID,
    recommendation_id: StrictUUID,
    body: RecommendationRating,
    principal: CommunityPrincipal,
    session: SessionDep,
) -> Response:
    """The author rates how useful a recommendation was (1-5)."""
    return json_response(
        await service.rate(
            session,
            principal=principal,
            case_id=case_id,
            recommendation_id=recommendation_id,
            usefulness=body.usefulness,
        )
    )


@me_router.get(
    "/recommendations",
    response_model=Page[RecommendationRead],
    responses=problem_responses(401, 403, 422),
    operation_id="me_recommendations",
)
async def my_recommendations(
    principal: CommunityPrincipal,
    session: SessionDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Response:
    """The advice I gave, newest first (my cases: `GET /cases?mine=true`)."""
    return json_response(
        await service.my_recommendations(session, principal=principal, cursor=cursor, limit=limit)
    )
