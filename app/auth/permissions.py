"""Route-level authorization: who may call a route at all. Object-level checks live in services.

``current_principal`` authenticates (401); ``require`` builds the role and scope checks (403).
"""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth import service
from app.auth.principal import Credential, Principal, Scope
from app.core.db import SessionDep
from app.core.errors import Forbidden, Unauthorized
from app.core.logging import bind
from app.core.security import TokenCodec, bearer_credential
from app.models.member import Role

# Both credentials arrive as "Authorization: Bearer ...". One dependency reads the header (each
# dependency costs per request); app.core.openapi documents the API token as the alternative
# scheme wherever this one appears.
_bearer = HTTPBearer(
    scheme_name="AccessToken",
    bearerFormat="JWT",
    auto_error=False,
    description="Access token from POST /api/v1/auth/login (about 15 minutes).",
)

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def current_principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise Unauthorized("Send a bearer token in the Authorization header.")
    # HTTPBearer tidies the header (extra spaces, a trailing blank); the credential is read
    # as strictly as the idempotency layer reads it, so both judge the same one.
    bearer = bearer_credential(request.headers.get("authorization"))
    if bearer is None:
        raise Unauthorized("Send the header as 'Authorization: Bearer <token>', one space.")
    codec: TokenCodec = request.app.state.token_codec
    principal = await service.authenticate(session, codec, bearer)
    # The id only: the log must not become a second copy of anyone's name or e-mail.
    bind(principal_id=str(principal.id))
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


# The community's own: members and the staff roles that work with them (not applicants).
CommunityPrincipal = Annotated[
    Principal, Depends(require(Role.member, Role.reviewer, Role.facilitator, Role.admin))
]
AdminPrincipal = Annotated[Principal, Depends(require(Role.admin, scope=Scope.admin))]
# Managing one's own credentials: an API token must not mint or revoke tokens.
InteractivePrincipal = Annotated[Principal, Depends(require(interactive=True))]
