"""/api/v1/audit: the audit log, for admins."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.audit import service
from app.audit.schemas import AuditEntryRead
from app.auth.permissions import AdminPrincipal
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from app.core.responses import json_response
from app.core.schemas import StrictUUID

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get(
    "",
    response_model=Page[AuditEntryRead],
    responses=problem_responses(401, 403, 422),
    operation_id="audit_list",
)
async def list_audit_entries(
    admin: AdminPrincipal,
    session: SessionDep,
    actor_id: StrictUUID | None = None,
    target_id: StrictUUID | None = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Response:
    """Who did what to what, when and from where; newest first. Admins only."""
    page = await service.list_entries(
        session,
        actor_id=actor_id,
        target_id=target_id,
        action=action,
        cursor=cursor,
        limit=limit,
    )
    return json_response(page)
