"""/api/v1/integrations/bitrix24: admins ask for a full sync or a reconciliation and read the
reports. The CRM is never called while a request waits: a request is recorded and the worker
performs it (the scheduled job ``bitrix24_sync_runs``, see ``runs.py``), so these answer at
once with 202."""

from fastapi import APIRouter, Request, Response, status

from app.auth.permissions import AdminPrincipal
from app.core.context import ContextDep
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from app.core.responses import json_response
from app.core.schemas import StrictUUID
from app.integrations.bitrix24 import inbound, runs, service
from app.integrations.bitrix24.schemas import CrmFailure, EventAccepted, SyncKind, SyncRunRead

router = APIRouter(prefix="/integrations/bitrix24", tags=["integrations"])
public_router = APIRouter(prefix="/integrations/bitrix24", tags=["integrations"])


def _accepted(run: SyncRunRead, request: Request) -> Response:
    response = json_response(run, status_code=status.HTTP_202_ACCEPTED)
    response.headers["Location"] = str(request.url_for("get_sync", run_id=str(run.id)).path)
    return response


@router.post(
    "/sync",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SyncRunRead,
    responses=problem_responses(401, 403, 409),
    operation_id="bitrix24_sync_request",
)
async def request_sync(
    admin: AdminPrincipal, session: SessionDep, context: ContextDep, request: Request
) -> Response:
    """Ask for a full sync of every member to the CRM; the worker runs it. Admins only."""
    run = await runs.request_run(
        session,
        settings=request.app.state.settings,
        kind=SyncKind.full_sync,
        actor_id=admin.id,
        context=context,
    )
    return _accepted(run, request)


@router.get(
    "/sync/{run_id}",
    response_model=SyncRunRead,
    responses=problem_responses(401, 403, 404, 422),
    operation_id="bitrix24_sync_get",
)
async def get_sync(run_id: StrictUUID, admin: AdminPrincipal, session: SessionDep) -> Response:
    """A requested sync or reconciliation run: its state and, once done, its report."""
    return json_response(await runs.get_run(session, run_id))


@router.post(
    "/reconciliation",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SyncRunRead,
    responses=problem_responses(401, 403, 409),
    operation_id="bitrix24_reconciliation_request",
)
async def request_reconciliation(
    admin: AdminPrincipal, session: SessionDep, context: ContextDep, request: Request
) -> Response:
    """Ask for a fresh reconciliation report (read-only comparison); the worker runs it."""
    run = await runs.request_run(
        session,
        settings=request.app.state.settings,
        kind=SyncKind.reconcile,
        actor_id=admin.id,
        context=context,
    )
    return _accepted(run, request)


@router.get(
    "/reconciliation",
    response_model=SyncRunRead,
    responses=problem_responses(401, 403, 404),
    operation_id="bitrix24_reconciliation_get",
)
async def get_reconciliation(admin: AdminPrincipal, session: SessionDep) -> Response:
    """The latest reconciliation: what differs between our members and the CRM's contacts."""
    return json_response(await runs.latest_reconciliation(session))


@public_router.post(
    "/events",
    response_model=EventAccepted,
    responses=problem_responses(403, 413),
    operation_id="bitrix24_events",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "string",
                        "description": "The portal's event, form-encoded with PHP bracket keys.",
                    },
                    "example": "event=ONCRMCONTACTUPDATE&event_handler_id=11&data[FIELDS][ID]=89"
                    "&ts=1724695689&auth[domain]=portal.example&auth[application_token]="
                    "<token>",
                }
            },
        }
    },
)
async def bitrix24_events(request: Request, session: SessionDep) -> EventAccepted:
    """Events from the portal's outgoing webhook. The application token is checked before
    anything is stored; the event is stored raw and applied by the worker, which re-reads
    the contact (the event carries only its id)."""
    body = await request.body()
    inbound.verify_token(request.app.state.settings, inbound.parse_form(body))
    stored = await inbound.receive(session, body)
    return EventAccepted(status="accepted" if stored else "duplicate")


@router.get(
    "/failures",
    response_model=Page[CrmFailure],
    responses=problem_responses(401, 403, 422),
    operation_id="bitrix24_failures_list",
)
async def list_failures(
    admin: AdminPrincipal,
    session: SessionDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[CrmFailure]:
    """The changes the CRM refused for good in the live sync (per member, application or
    registration), with the portal's code and description, newest first. Admins only."""
    return await service.live_failures(session, cursor=cursor, limit=limit)
