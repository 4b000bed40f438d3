"""/api/v1: the public router (sign-up, login, refresh) and the authenticated-by-default one."""

from fastapi import APIRouter, Depends

from app.audit.router import router as audit_router
from app.auth.permissions import current_principal
from app.auth.router import public_router as auth_public_router
from app.auth.router import router as auth_router
from app.members.router import me_router
from app.members.router import router as members_router

API_PREFIX = "/api/v1"

public_router = APIRouter()
public_router.include_router(auth_public_router)

# Every route here demands a valid principal; a route added later is protected by default.
authed_router = APIRouter(dependencies=[Depends(current_principal)])
authed_router.include_router(auth_router)
authed_router.include_router(me_router)
authed_router.include_router(members_router)
authed_router.include_router(audit_router)

api_router = APIRouter(prefix=API_PREFIX)
api_router.include_router(public_router)
api_router.include_router(authed_router)
