"""/api/v1/applications: my application, submission, admins' list, decisions and CSV import,
the rule, the funnel.

Submission and import hand the applications to the council through followers
(``app.applications.service.submitted`` and ``.imported``, which ``app.reviews.assigning``
follows): this area does not know the council. The reviews of an application
(/applications/{id}/reviews, assignments) live in app/reviews/router.py.
"""

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from app.applications import importing, service
from app.applications.repository import ApplicationFilters
from app.applications.schemas import (
    ApplicationAdminRead,
    ApplicationCreate,
    ApplicationRead,
    ApplicationUpdate,
    DecisionCreate,
    DecisionRuleRead,
    DecisionRuleUpdate,
    FunnelStats,
    ImportReport,
)
from app.auth.permissions import AdminPrincipal, PrincipalDep, require
from app.auth.principal import Principal
from app.core.context import ContextDep, SettingsDep
from app.core.db import SessionDep
from app.core.errors import AppError, problem_responses
from app.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from app.core.responses import IfMatch, json_response, tagged_response
from app.core.schemas import StrictUUID
from app.models.application import ApplicationStatus
from app.models.member import Role

router = APIRouter(prefix="/applications", tags=["applications"])
CSV_TYPES = ("text/csv", "application/csv", "text/plain")

ApplicantPrincipal = Annotated[Principal, Depends(require(Role.applicant))]


class ApplicationSort(StrEnum):
    created_at = "created_at"
    created_at_desc = "-created_at"


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ApplicationRead,
    responses=problem_responses(401, 403, 409, 413, 422),
    operation_id="applications_create",
)
async def create_application(
    body: ApplicationCreate,
    principal: ApplicantPrincipal,
    session: SessionDep,
    context: ContextDep,
) -> ApplicationRead:
    """Start my application as a draft (one open application at a time)."""
    return await service.create(session, principal=principal, context=context, data=body)


@router.get(
    "",
    response_model=Page[ApplicationAdminRead] | Page[ApplicationRead],
    responses=problem_responses(401, 403, 422),
    operation_id="applications_list",
)
async def list_applications(
    principal: PrincipalDep,
    session: SessionDep,
    context: ContextDep,
    application_status: Annotated[ApplicationStatus | None, Query(alias="status")] = None,
    escalated: Annotated[bool | None, Query(description="Admins: waiting for an admin.")] = None,
    source: Annotated[str | None, Query(max_length=100, description="Admins only.")] = None,
    sort: ApplicationSort = ApplicationSort.created_at_desc,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Response:
    """Admins list every application; anyone else lists their own."""
    filters = ApplicationFilters(status=application_status, escalated=escalated, source=source)
    page = await service.list_applications(
        session,
        principal=principal,
        context=context,
        filters=filters,
        descending=sort == ApplicationSort.created_at_desc,
        cursor=cursor,
        limit=limit,
    )
    return json_response(page)


@router.get(
    "/stats",
    response_model=FunnelStats,
    responses=problem_responses(401, 403),
    operation_id="applications_stats",
)
async def funnel_stats(admin: AdminPrincipal, session: SessionDep) -> FunnelStats:
    """The funnel: counts by status, source and campaign, approval rate, time to decision,
    reviews outstanding per reviewer. Admins only."""
    return await service.funnel(session)


@router.get(
    "/decision-rule",
    response_model=DecisionRuleRead,
    responses=problem_responses(401, 403),
    operation_id="applications_decision_rule_get",
)
async def get_decision_rule(admin: AdminPrincipal, session: SessionDep) -> DecisionRuleRead:
    """The rule that settles applications once enough reviews are in. Admins only."""
    return await service.get_rule(session)


@router.put(
    "/decision-rule",
    response_model=DecisionRuleRead,
    responses=problem_responses(401, 403, 409, 413, 422),
    operation_id="applications_decision_rule_update",
)
async def update_decision_rule(
    body: DecisionRuleUpdate,
    admin: AdminPrincipal,
    session: SessionDep,
    context: ContextDep,
    settings: SettingsDep,
) -> DecisionRuleRead:
    """Change the decision rule (audited). Admins only."""
    return await service.update_rule(
        session,
        principal=admin,
        context=context,
        data=body,
        reviewers_per_application=settings.reviewers_per_application,
    )


@router.get(
    "/{application_id}",
    response_model=ApplicationRead | ApplicationAdminRead,
    responses=problem_responses(401, 403, 404, 422),
    operation_id="applications_get",
)
async def get_application(
    application_id: StrictUUID,
    principal: PrincipalDep,
    session: SessionDep,
    request: Request,
    context: ContextDep,
) -> Response:
    """Read my application (with the decision and its reason) or, as an admin, any."""
    application = await service.get(
        session, principal=principal, context=context, application_id=application_id
    )
    return tagged_response(application, request)


@router.patch(
    "/{application_id}",
    response_model=ApplicationRead,
    responses=problem_responses(401, 403, 404, 409, 412, 413, 422),
    operation_id="applications_update",
)
async def update_application(
    application_id: StrictUUID,
    body: ApplicationUpdate,
    principal: PrincipalDep,
    session: SessionDep,
    context: ContextDep,
    request: Request,
    if_match: IfMatch = None,
) -> Response:
    """Edit my draft; a submitted application cannot change."""
    application = await service.update(
        session,
        principal=principal,
        context=context,
        application_id=application_id,
        data=body,
        if_match=if_match,
    )
    return tagged_response(application, request)


@router.post(
    "/{application_id}/withdraw",
    response_model=ApplicationRead,
    responses=problem_responses(401, 403, 404, 409, 422),
    operation_id="applications_withdraw",
)
async def withdraw_application(
    application_id: StrictUUID,
    principal: PrincipalDep,
    session: SessionDep,
    context: ContextDep,
) -> ApplicationRead:
    """Withdraw my application before it is decided."""
    return await service.withdraw(
        session, principal=principal, context=context, application_id=application_id
    )


@router.post(
    "/{application_id}/decision",
    response_model=ApplicationAdminRead,
    responses=problem_responses(401, 403, 404, 409, 413, 422),
    operation_id="applications_decide",
)
async def decide_application(
    application_id: StrictUUID,
    body: DecisionCreate,
    admin: AdminPrincipal,
    session: SessionDep,
    context: ContextDep,
    settings: SettingsDep,
) -> ApplicationAdminRead:
    """Approve, reject or waitlist by hand, with a reason (audited). Admins only. An approved
    person without a password yet (imported) is sent an invitation to set one."""
    return await service.decide_by_admin(
        session,
        settings,
        principal=admin,
        context=context,
        application_id=application_id,
        data=body,
    )


class UnsupportedMediaType(AppError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


@router.post(
    "/import",
    response_model=ImportReport,
    responses=problem_responses(401, 403, 413, 415, 422),
    operation_id="applications_import",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {
                    # The CSV format itself (a header naming e-mail and full-name columns, then
                    # rows) is described in words; the schema says what a string can: text
                    # without NUL.
                    "schema": {
                        "type": "string",
                        "minLength": 1,
                        "pattern": "^[^\\u0000]*$",
                        "description": "UTF-8 CSV: a header line naming at least an e-mail and a "
                        "full-name column (Russian or English), then one row per "
                        "application. At most 10 MiB by default "
                        "(`DL_APPLICATION_IMPORT_MAX_BYTES`; the general body limit does not "
                        "apply here) and `DL_APPLICATION_IMPORT_MAX_ROWS` rows.",
                    },
                    "example": "email,full_name,function,seniority,industry,experience_summary\n"
                    "ivan@example.com,Ivan Petrov,CTO,4,Retail,Led a platform team of 80\n",
                }
            },
        }
    },
)
async def import_applications(
    request: Request,
    admin: AdminPrincipal,
    session: SessionDep,
    context: ContextDep,
    settings: SettingsDep,
) -> ImportReport:
    """Import applications from a CSV form export (UTF-8; Russian or English headers), with a
    report per row. Idempotent by e-mail. Admins only."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in CSV_TYPES:
        raise UnsupportedMediaType("Send the file as text/csv.")
    return await importing.import_applications(
        session, principal=admin, context=context, settings=settings, content=await request.body()
    )


@router.post(
    "/{application_id}/submit",
    response_model=ApplicationRead,
    responses=problem_responses(401, 403, 404, 409, 422),
    operation_id="applications_submit",
)
async def submit_application(
    application_id: StrictUUID,
    principal: PrincipalDep,
    session: SessionDep,
    context: ContextDep,
    settings: SettingsDep,
) -> ApplicationRead:
    """Submit my draft; reviewers from the expert council are assigned at once."""
    return await service.submit(
        session,
        principal=principal,
        context=context,
        settings=settings,
        application_id=application_id,
    )
