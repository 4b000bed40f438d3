"""/api/v1/webhooks: subscriptions, the event catalogue, the delivery log. Admins only."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.auth.permissions import AdminPrincipal
from app.core.context import ContextDep, SettingsDep
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.idempotency import answer_holds_secret
from app.core.middleware import NO_STORE
from app.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from app.core.responses import NOT_MODIFIED, IfMatch, json_response, tagged_response
from app.core.schemas import StrictUUID
from app.models.webhook import DeliveryStatus
from app.webhooks import service
from app.webhooks.schemas import (
    DeliveryDetail,
    DeliveryRead,
    EventTypeRead,
    RedeliverFailed,
    RedeliveryAccepted,
    SubscriptionCreate,
    SubscriptionRead,
    SubscriptionUpdate,
    SubscriptionWithSecret,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.get(
    "/event-types",
    response_model=list[EventTypeRead],
    responses=problem_responses(401, 403),
    operation_id="webhooks_event_types",
)
async def list_event_types(admin: AdminPrincipal) -> list[EventTypeRead]:
    """Every event type with its version and the JSON Schema of its `data`. Names never
    change once published; an incompatible payload change is a new version."""
    return service.event_type_catalogue()


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SubscriptionWithSecret,
    responses=problem_responses(401, 403, 413, 422),
    operation_id="webhooks_create",
    dependencies=[answer_holds_secret("GET /api/v1/webhooks lists it"), NO_STORE],
)
async def create_subscription(
    body: SubscriptionCreate,
    admin: AdminPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    context: ContextDep,
) -> Response:
    """Subscribe a receiver. The signing secret is in this response only."""
    created = await service.create_subscription(session, settings, admin, context, body)
    return json_response(created, status_code=status.HTTP_201_CREATED)


@router.get(
    "",
    response_model=Page[SubscriptionRead],
    responses=problem_responses(401, 403, 422),
    operation_id="webhooks_list",
)
async def list_subscriptions(
    admin: AdminPrincipal,
    session: SessionDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Response:
    """Subscriptions, newest first."""
    return json_response(await service.list_subscriptions(session, cursor=cursor, limit=limit))


@router.get(
    "/{subscription_id}",
    response_model=SubscriptionRead,
    responses={**problem_responses(401, 403, 404, 422), **NOT_MODIFIED},
    operation_id="webhooks_get",
)
async def get_subscription(
    subscription_id: StrictUUID, admin: AdminPrincipal, session: SessionDep, request: Request
) -> Response:
    """One subscription (never its secret)."""
    return tagged_response(await service.get_subscription(session, subscription_id), request)


@router.patch(
    "/{subscription_id}",
    response_model=SubscriptionRead,
    responses=problem_responses(401, 403, 404, 412, 413, 422),
    operation_id="webhooks_update",
)
async def update_subscription(
    subscription_id: StrictUUID,
    body: SubscriptionUpdate,
    admin: AdminPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    context: ContextDep,
    request: Request,
    if_match: IfMatch = None,
) -> Response:
    """Change the URL, the event types, the description, or enable/disable."""
    updated = await service.update_subscription(
        session, settings, admin, context, subscription_id, body, if_match
    )
    return tagged_response(updated, request)


@router.delete(
    "/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 422),
    operation_id="webhooks_delete",
)
async def delete_subscription(
    subscription_id: StrictUUID, admin: AdminPrincipal, session: SessionDep, context: ContextDep
) -> Response:
    """Remove the subscription and its delivery log."""
    await service.delete_subscription(session, admin, context, subscription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{subscription_id}/rotate-secret",
    response_model=SubscriptionWithSecret,
    responses=problem_responses(401, 403, 404, 422),
    operation_id="webhooks_rotate_secret",
    dependencies=[NO_STORE],
)
async def rotate_secret(
    subscription_id: StrictUUID,
    admin: AdminPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    context: ContextDep,
) -> Response:
    """A new secret (in this response only); the old one keeps signing beside it for 24 h."""
    rotated = await service.rotate_secret(session, settings, admin, context, subscription_id)
    return json_response(rotated)


@router.post(
    "/{subscription_id}/ping",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryRead,
    responses=problem_responses(401, 403, 404, 409, 422),
    operation_id="webhooks_ping",
)
async def ping(subscription_id: StrictUUID, admin: AdminPrincipal, session: SessionDep) -> Response:
    """Send a `webhook.ping` to this receiver; follow it in the delivery log."""
    delivery = await service.ping(session, admin, subscription_id)
    return json_response(delivery, status_code=status.HTTP_202_ACCEPTED)


@router.get(
    "/{subscription_id}/deliveries",
    response_model=Page[DeliveryRead],
    responses=problem_responses(401, 403, 404, 422),
    operation_id="webhooks_deliveries_list",
)
async def list_deliveries(
    subscription_id: StrictUUID,
    admin: AdminPrincipal,
    session: SessionDep,
    delivery_status: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    event_type: Annotated[str | None, Query(max_length=64)] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Response:
    """The delivery log (kept 30 days), newest first; `status=failed` lists what gave up."""
    page = await service.list_deliveries(
        session,
        subscription_id,
        status=delivery_status,
        event_type=event_type,
        cursor=cursor,
        limit=limit,
    )
    return json_response(page)


@router.get(
    "/{subscription_id}/deliveries/{delivery_id}",
    response_model=DeliveryDetail,
    responses=problem_responses(401, 403, 404, 422),
    operation_id="webhooks_deliveries_get",
)
async def get_delivery(
    subscription_id: StrictUUID,
    delivery_id: StrictUUID,
    admin: AdminPrincipal,
    session: SessionDep,
) -> Response:
    """One delivery with its body and every attempt (status, latency, response excerpt)."""
    return json_response(await service.get_delivery(session, subscription_id, delivery_id))


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RedeliveryAccepted,
    responses=problem_responses(401, 403, 404, 409, 422),
    operation_id="webhooks_redeliver",
)
async def redeliver(
    subscription_id: StrictUUID,
    delivery_id: StrictUUID,
    admin: AdminPrincipal,
    session: SessionDep,
    context: ContextDep,
) -> Response:
    """Send one delivery again, with the same `webhook-id`."""
    accepted = await service.redeliver(session, admin, context, subscription_id, delivery_id)
    return json_response(accepted, status_code=status.HTTP_202_ACCEPTED)


@router.post(
    "/{subscription_id}/redeliver-failed",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RedeliveryAccepted,
    responses=problem_responses(401, 403, 404, 409, 413, 422),
    operation_id="webhooks_redeliver_failed",
)
async def redeliver_failed(
    subscription_id: StrictUUID,
    body: RedeliverFailed,
    admin: AdminPrincipal,
    session: SessionDep,
    context: ContextDep,
) -> Response:
    """Send again every failed delivery created since a time (up to 1,000 per call)."""
    accepted = await service.redeliver_failed(session, admin, context, subscription_id, body.since)
    return json_response(accepted, status_code=status.HTTP_202_ACCEPTED)
