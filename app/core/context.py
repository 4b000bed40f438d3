"""Per-request facts that services need without knowing about HTTP."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.core.config import Settings
from app.core.security import PasswordHasher, TokenCodec


@dataclass(frozen=True, slots=True)
class RequestContext:
    client_address: str | None
    request_id: str | None


# Dependencies are `async def`: a plain `def` one would run in the threadpool.
async def get_request_context(request: Request) -> RequestContext:
    return RequestContext(
        client_address=request.client.host if request.client else None,
        request_id=getattr(request.state, "request_id", None),
    )


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_token_codec(request: Request) -> TokenCodec:
    codec: TokenCodec = request.app.state.token_codec
    return codec


async def get_password_hasher(request: Request) -> PasswordHasher:
    hasher: PasswordHasher = request.app.state.password_hasher
    return hasher


ContextDep = Annotated[RequestContext, Depends(get_request_context)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
TokenCodecDep = Annotated[TokenCodec, Depends(get_token_codec)]
PasswordHasherDep = Annotated[PasswordHasher, Depends(get_password_hasher)]
