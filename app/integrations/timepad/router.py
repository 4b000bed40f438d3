"""/api/v1/integrations/timepad: the webhook Timepad calls; reconciliation and the unusable
bodies for admins."""

from typing import Annotated

import httpx
from fastapi import APIRouter, BackgroundTasks, Header, Request, Response, status

from app.auth.permissions import AdminPrincipal
from app.core.context import SettingsDep
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from app.core.responses import json_response
from app.core.schemas import StrictUUID
from app.integrations.timepad import service
from app.integrations.timepad.schemas import DriftReport, UnusableMessage, WebhookAccepted

public_router = APIRouter(prefix="/integrations/timepad", tags=["integrations"])
router = APIRouter(prefix="/integrations/timepad", tags=["integrations"])

EXAMPLE_ORDER = {
    "id": 4955686,
    "status": {"name": "paid", "title": "оплачено"},
    "mail": "ivan@example.com",
    "event": {"id": 215813},
    "answers": {"name": "Иван", "surname": "Смирнов"},
}


@public_router.post(
    "/webhook",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookAccepted,
    responses=problem_responses(403, 413),
    operation_id="timepad_webhook",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "description": "An order (or a legacy ticket) as Timepad "
                        "sends it; signed with X-Hub-Signature.",
                    },
                    "example": EXAMPLE_ORDER,
                }
            },
        }
    },
)
async def timepad_webhook(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    tasks: BackgroundTasks,
    x_hub_signature: Annotated[str | None, Header(max_length=100)] = None,
) -> Response:
    """Timepad's order webhook. The signature is checked before anything else; the raw body
    is stored (committed) before the answer, and applied after it, so nothing received is
    lost and Timepad never waits for our processing."""
    body = await request.body()
    service.verify_signature(settings, body, x_hub_signature)
    accepted, message_id = await service.receive(
        session, body, {"x-hub-signature": x_hub_signature or ""}
    )
    if message_id is not None:
        tasks.add_task(
            service.process_stored,
            request.app.state.sessionmaker,
            settings,
            message_id,
            request.app.state.side_engine,
        )
    return json_response(accepted, status_code=status.HTTP_202_ACCEPTED)


@router.get(
    "/unusable",
    response_model=Page[UnusableMessage],
    responses=problem_responses(401, 403, 422),
    operation_id="timepad_unusable_list",
)
async def list_unusable(
    admin: AdminPrincipal,
    session: SessionDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[UnusableMessage]:
    """Signed Timepad webhooks that can never be applied (not JSON, a number past the digit
    limit, nesting too deep, no order in them), newest first: kept for the record and never
    retried. Admins only."""
    return await service.unusable_messages(session, cursor=cursor, limit=limit)


@router.post(
    "/events/{event_id}/reconcile",
    response_model=DriftReport,
    responses=problem_responses(401, 403, 404, 422, 503),
    operation_id="timepad_reconcile",
)
async def reconcile(
    event_id: StrictUUID, admin: AdminPrincipal, session: SessionDep, settings: SettingsDep
) -> DriftReport:
    """Pull the event's orders from Timepad, repair what the webhooks missed, and report
    what differed. Admins only."""
    async with httpx.AsyncClient(
        timeout=settings.timepad_timeout_seconds, follow_redirects=False, trust_env=False
    ) as http:
        return await service.reconcile(
            session, settings, service.client_for(settings, http), event_id
        )
