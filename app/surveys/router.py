"""/api/v1/surveys: admins build, open and close surveys and read results and exports; the
audience answers once; facilitators see their own table's aggregate."""

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status

from app.auth.permissions import AdminPrincipal, CommunityPrincipal, require
from app.auth.principal import Principal
from app.core.context import ContextDep
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from app.core.responses import NOT_MODIFIED, IfMatch, json_response, tagged_response
from app.core.schemas import StrictUUID
from app.models.member import Role
from app.models.survey import SurveyStatus
from app.surveys import service
from app.surveys.schemas import (
    ExpressSurveyCreate,
    MyResponseRead,
    ResponseCreate,
    SurveyCreate,
    SurveyRead,
    SurveyResults,
    SurveyUpdate,
    TableResults,
)

router = APIRouter(tags=["surveys"])

FacilitatorPrincipal = Annotated[Principal, Depends(require(Role.facilitator))]
WRITE_PROBLEMS = problem_responses(401, 403, 404, 409, 413, 422)
EXPORT_CONTENT = {
    "text/csv": {"schema": {"type": "string"}},
    "application/json": {"schema": {"type": "object"}},
}


def _now() -> datetime:
    return datetime.now(UTC)


@router.post(
    "/surveys",
    status_code=status.HTTP_201_CREATED,
    response_model=SurveyRead,
    responses=WRITE_PROBLEMS,
    operation_id="surveys_create",
)
async def create_survey(
    body: SurveyCreate, admin: AdminPrincipal, session: SessionDep, context: ContextDep
) -> Response:
    """Create a survey as a draft: its questions, audience, anonymity and dates. Admins."""
    created = await service.create(session, admin=admin, context=context, data=body)
    return json_response(created, status_code=status.HTTP_201_CREATED)


@router.post(
    "/events/{event_id}/surveys/express",
    status_code=status.HTTP_201_CREATED,
    response_model=SurveyRead,
    responses=WRITE_PROBLEMS,
    operation_id="surveys_create_express",
)
async def create_express_survey(
    event_id: StrictUUID,
    body: ExpressSurveyCreate,
    admin: AdminPrincipal,
    session: SessionDep,
    context: ContextDep,
) -> Response:
    """The express survey after an event: how was it (1-5), NPS, most useful, what to
    change, topics for next time. Opened at once (invitations go out) unless `open_now` is
    false. Admins."""
    created = await service.create_express(
        session, admin=admin, context=context, event_id=event_id, data=body, now=_now()
    )
    return json_response(created, status_code=status.HTTP_201_CREATED)


@router.get(
    "/surveys",
    response_model=Page[SurveyRead],
    responses=problem_responses(401, 403, 422),
    operation_id="surveys_list",
)
async def list_surveys(
    principal: CommunityPrincipal,
    session: SessionDep,
    event_id: StrictUUID | None = None,
    survey_status: Annotated[SurveyStatus | None, Query(alias="status")] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Response:
    """Surveys, newest first: open and closed ones; admins also drafts and scheduled."""
    return json_response(
        await service.list_surveys(
            session,
            principal=principal,
            event_id=event_id,
            status=survey_status,
            cursor=cursor,
            limit=limit,
        )
    )


@router.get(
    "/surveys/{survey_id}",
    response_model=SurveyRead,
    responses={**problem_responses(401, 403, 404, 422), **NOT_MODIFIED},
    operation_id="surveys_get",
)
async def get_survey(
    survey_id: StrictUUID, principal: CommunityPrincipal, session: SessionDep, request: Request
) -> Response:
    """One survey with its questions (ETag)."""
    return tagged_response(
        await service.get(session, principal=principal, survey_id=survey_id), request
    )


@router.patch(
    "/surveys/{survey_id}",
    response_model=SurveyRead,
    responses=problem_responses(401, 403, 404, 409, 412, 413, 422),
    operation_id="surveys_update",
)
async def update_survey(
    survey_id: StrictUUID,
    body: SurveyUpdate,
    admin: AdminPrincipal,
    session: SessionDep,
    context: ContextDep,
    request: Request,
    if_match: IfMatch = None,
) -> Response:
    """Change a survey (If-Match) until its first answer; 409 after. Admins."""
    updated = await service.update(
        session,
        admin=admin,
        context=context,
        survey_id=survey_id,
        data=body,
        if_match=if_match,
        now=_now(),
    )
    return tagged_response(updated, request)


@router.post(
    "/surveys/{survey_id}/open",
    response_model=SurveyRead,
    responses=problem_responses(401, 403, 404, 409, 422),
    operation_id="surveys_open",
)
async def open_survey(
    survey_id: StrictUUID, admin: AdminPrincipal, session: SessionDep, context: ContextDep
) -> Response:
    """Open now and invite the audience, or schedule for `opens_at` if still ahead."""
    return json_response(
        await service.open_survey(
            session, admin=admin, context=context, survey_id=survey_id, now=_now()
        )
    )


@router.post(
    "/surveys/{survey_id}/close",
    response_model=SurveyRead,
    responses=problem_responses(401, 403, 404, 409, 422),
    operation_id="surveys_close",
)
async def close_survey(
    survey_id: StrictUUID, admin: AdminPrincipal, session: SessionDep, context: ContextDep
) -> Response:
    """Close: no more answers. Final."""
    return json_response(
        await service.close_survey(
            session, admin=admin, context=context, survey_id=survey_id, now=_now()
        )
    )


@router.post(
    "/surveys/{survey_id}/remind",
    response_model=SurveyRead,
    responses=problem_responses(401, 403, 404, 409, 422),
    operation_id="surveys_remind",
)
async def remind(
    survey_id: StrictUUID, admin: AdminPrincipal, session: SessionDep, context: ContextDep
) -> Response:
    """E-mail a reminder now to those of the audience who have not answered."""
    return json_response(
        await service.remind(session, admin=admin, context=context, survey_id=survey_id, now=_now())
    )


@router.post(
    "/surveys/{survey_id}/responses",
    status_code=status.HTTP_201_CREATED,
    response_model=MyResponseRead,
    responses=WRITE_PROBLEMS,
    operation_id="surveys_respond",
)
async def respond(
    survey_id: StrictUUID, body: ResponseCreate, principal: CommunityPrincipal, session: SessionDep
) -> Response:
    """Answer the survey (its audience, once: 409 on a second answer)."""
    answered = await service.respond(
        session, principal=principal, survey_id=survey_id, data=body, now=_now()
    )
    return json_response(answered, status_code=status.HTTP_201_CREATED)


@router.get(
    "/surveys/{survey_id}/my-response",
    response_model=MyResponseRead,
    responses=problem_responses(401, 403, 404, 422),
    operation_id="surveys_my_response",
)
async def my_response(
    survey_id: StrictUUID, principal: CommunityPrincipal, session: SessionDep
) -> Response:
    """Whether I answered; my answers for named surveys (anonymous ones are linked to
    nobody, not even to me)."""
    return json_response(
        await service.my_response(session, principal=principal, survey_id=survey_id, now=_now())
    )


@router.put(
    "/surveys/{survey_id}/my-response",
    response_model=MyResponseRead,
    responses=WRITE_PROBLEMS,
    operation_id="surveys_edit_response",
)
async def edit_response(
    survey_id: StrictUUID, body: ResponseCreate, principal: CommunityPrincipal, session: SessionDep
) -> Response:
    """Replace my answers while the survey is open, if it allows changes (named only)."""
    return json_response(
        await service.edit_response(
            session, principal=principal, survey_id=survey_id, data=body, now=_now()
        )
    )


@router.get(
    "/surveys/{survey_id}/results",
    response_model=SurveyResults,
    responses=problem_responses(401, 403, 404, 422),
    operation_id="surveys_results",
)
async def results(survey_id: StrictUUID, admin: AdminPrincipal, session: SessionDep) -> Response:
    """Response rate, share satisfied, each question's figures, and breakdowns by table and
    facilitator (groups under k answers withheld). Admins."""
    return json_response(await service.survey_results(session, admin=admin, survey_id=survey_id))


@router.get(
    "/surveys/{survey_id}/results/my-table",
    response_model=list[TableResults],
    responses=problem_responses(401, 403, 404, 422),
    operation_id="surveys_my_table_results",
)
async def my_table_results(
    survey_id: StrictUUID, facilitator: FacilitatorPrincipal, session: SessionDep
) -> list[TableResults]:
    """The aggregate of the table(s) I led, once a table has k answers. Facilitators."""
    return await service.my_table_results(session, principal=facilitator, survey_id=survey_id)


@router.get(
    "/surveys/{survey_id}/export",
    response_class=Response,
    responses={
        200: {"content": EXPORT_CONTENT, "description": "Every response, as CSV or JSON."},
        **problem_responses(401, 403, 404, 422),
    },
    operation_id="surveys_export",
)
async def export(
    survey_id: StrictUUID,
    admin: AdminPrincipal,
    session: SessionDep,
    context: ContextDep,
    fmt: Annotated[Literal["csv", "json"], Query(alias="format")] = "csv",
) -> Response:
    """The responses for analysis: anonymous surveys give answers only, in random order;
    named ones the member, table and day too. Admins."""
    body, media_type = await service.export(
        session, admin=admin, context=context, survey_id=survey_id, fmt=fmt
    )
    extension = "json" if fmt == "json" else "csv"
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="survey-{survey_id}.{extension}"'},
    )
