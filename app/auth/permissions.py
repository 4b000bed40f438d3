"""Route-level authorization: who may call a route at all. Object-level checks live in services.

``current_principal`` authenticates (401); ``require`` builds the role and scope checks (403).
"""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth import service
from app.auth.principal import Credential, Principal, Scope
from app.core.context import TokenCodecDep
from app.core.db import SessionDep
from app.core.errors import Forbidden, Unauthorized
from app.models.member import Role

# Two schemes in the OpenAPI document; both arrive as "Authorization: Bearer ...".
_access_token = HTTPBearer(
    scheme_name="AccessToken", bearerFormat="JWT", auto_error=False,
    description="Access token from POST /api/v1/auth/login (about 15 minutes).",
)
_api_token = HTTPBearer(
    scheme_name="ApiToken", bearerFormat="dl_pat", auto_error=False,
    description="Personal API token (dl_pat_...) from POST /api/v1/me/tokens.",
)

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def current_principal(
    request: Request,
    session: SessionDep,
    codec: TokenCodecDep,
    jwt_credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_access_token)],
    pat_credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_api_token)],
) -> Principal:
    credentials = jwt_credentials or pat_credentials
    if credentials is None or not credentials.credentials:
        raise Unauthorized("Send a bearer token in the Authorization header.")
    principal = await service.authenticate(session, codec, credentials.credentials)
    needed = Scope.read if request.method in _SAFE_METHODS else Scope.write
    if needed not in principal.scopes:
        raise Forbidden(f"This API token lacks the '{needed}' scope.")
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require(
    *roles: Role, scope: Scope | None = None, interactive: bool = False
) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting principals with any of ``roles`` (any role when empty), whose
    credential carries ``scope``; ``interactive`` also refuses personal API tokens."""

    async def dependency(principal: PrincipalDep) -> Principal:
        if roles and not principal.has_role(*roles):
            raise Forbidden("Your roles do not allow this.")
        if scope is not None and scope not in principal.scopes:
            raise Forbidden(f"This API token lacks the '{scope}' scope.")
        if interactive and principal.credential is Credential.api_token:
            raise Forbidden("This action needs a login session, not an API token.")
        return principal

    return dependency


AdminPrincipal = Annotated[Principal, Depends(require(Role.admin, scope=Scope.admin))]
# Managing one's own credentials: an API token must not mint or revoke tokens.
InteractivePrincipal = Annotated[Principal, Depends(require(interactive=True))]
