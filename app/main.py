"""The application factory: state, middleware, error handlers, routers."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from app.api import API_PREFIX, include_api
from app.auth import revocations
from app.auth import service as auth_service
from app.core.config import Settings, get_settings
from app.core.db import (
    create_autocommit_sessionmaker,
    create_engine,
    create_sessionmaker,
    create_side_engine,
)
from app.core.errors import install_error_handlers
from app.core.idempotency import IdempotencyMiddleware
from app.core.logging import configure_logging
from app.core.middleware import (
    AccessLogMiddleware,
    BodyLimitMiddleware,
    ProblemCORSMiddleware,
    RequestIdMiddleware,
    SecurityHeadersMiddleware,
)
from app.core.openapi import install_openapi
from app.core.routes import route_index
from app.core.security import PasswordHasher, TokenCodec
from app.core.tracing import install_tracing
from app.health.router import router as health_router
from app.metrics.router import router as metrics_router
from app.worker.router import router as jobs_router
from app.worker.runtime import background

VERSION = "1.0.0"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    # Built before the first request rather than by it: building the OpenAPI document the
    # index reads takes over a second of CPU, which would stall every request then in flight.
    route_index(app)
    async with AsyncExitStack() as stack:
        if settings.revocation_listen and not settings.is_sqlite:
            listener = asyncio.create_task(
                revocations.listen(settings.database_url), name="token-version-listener"
            )
            stack.callback(listener.cancel)
        if settings.worker_in_process:
            await stack.enter_async_context(background(app.state.sessionmaker, settings))
        yield
    if app.state.tracer_provider is not None:
        app.state.tracer_provider.shutdown()  # sends the spans still buffered
    await app.state.engine.dispose()
    if app.state.side_engine is not None:
        await app.state.side_engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    app = FastAPI(
        title="Digital Leaders API",
        version=VERSION,
        lifespan=lifespan,
        docs_url="/docs" if settings.docs_enabled else None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
    )
    app.state.settings = settings
    app.state.engine = create_engine(settings)
    app.state.sessionmaker = create_sessionmaker(app.state.engine)
    app.state.read_sessionmaker = create_autocommit_sessionmaker(app.state.engine)
    app.state.side_engine = create_side_engine(settings)
    app.state.token_codec = TokenCodec(settings)
    app.state.password_hasher = PasswordHasher(settings)

    install_error_handlers(app)
    install_openapi(app)
    app.include_router(health_router)
    if settings.metrics_enabled:
        app.include_router(metrics_router)
    include_api(app, jobs_router)
    app.state.tracer_provider = install_tracing(app, app.state.engine, settings)

    # Added innermost first: the security headers and the request id wrap everything, the
    # access log sees every answer (a CORS refusal or a 413 too), the body limit runs before
    # idempotency (which needs the buffered body) and before any route or auth.
    app.add_middleware(
        IdempotencyMiddleware,
        ttl=timedelta(hours=settings.idempotency_ttl_hours),
        lease=timedelta(seconds=settings.idempotency_lease_seconds),
        authenticate=auth_service.authenticate,
    )
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        larger={
            f"{API_PREFIX}/applications/import": max(
                settings.application_import_max_bytes, settings.max_body_bytes
            )
        },
    )
    app.add_middleware(
        ProblemCORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            "Idempotency-Key",
            "If-Match",
            "If-None-Match",
            "X-Request-ID",
        ],
        expose_headers=["ETag", "Location", "Retry-After", "X-Request-ID", "Idempotent-Replayed"],
    )
    app.add_middleware(AccessLogMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    return app
