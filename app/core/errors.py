"""RFC 9457 problem details: every 4xx and 5xx leaves the API as ``application/problem+json``.

Services raise ``AppError`` subclasses; the handlers below render them, FastAPI's validation
errors, Starlette's 404/405 and anything unexpected in one format.
"""

import logging
from collections.abc import Iterator
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.routes import route_index

logger = logging.getLogger("app.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "/problems/"
DB_RETRY_AFTER_SECONDS = 2
# SQLSTATEs meaning "no database for you right now", whoever raised them: the connection
# exception class (08: refused, reset, gone mid-query), the server shutting down or starting up
# (57P01-57P03), every connection slot taken (53300), and a lock not granted within the
# statement's ``lock_timeout`` (55P03, ``core.db.create_side_engine``).
_UNAVAILABLE_SQLSTATE_CLASSES = ("08",)
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300", "55P03"})


class ProblemFieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(examples=["/problems/not-found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[ProblemFieldError] | None = None


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    *,
    request: Request | None = None,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if request is not None:
        body["instance"] = request.url.path
        request_id = getattr(request.state, "request_id", None)
        if request_id:
            body["request_id"] = request_id
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


class AppError(Exception):
    """A rule was broken. Subclasses set status, a stable slug and a title."""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"
    # Writes made before the error are committed anyway (a failed login must still count).
    keeps_writes: ClassVar[bool] = False

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None):
        super().__init__(detail or self.title)
        self.detail = detail
        self.headers = headers


class NotFound(AppError):
    status, slug, title = 404, "not-found", "Not found"


class Unauthorized(AppError):
    status, slug, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None):
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status, slug, title = 403, "forbidden", "Forbidden"


class Conflict(AppError):
    status, slug, title = 409, "conflict", "Conflict"


class IllegalTransition(Conflict):
    """A lifecycle step the resource's current status does not allow (any area's lifecycle)."""

    slug, title = "illegal-transition", "Illegal status change"


class InvalidInput(AppError):
    status, slug, title = 422, "invalid-input", "Invalid input"


class PreconditionFailed(AppError):
    status, slug, title = 412, "precondition-failed", "Precondition failed"


class TooManyRequests(AppError):
    status, slug, title = 429, "too-many-requests", "Too many requests"
    keeps_writes = True

    def __init__(self, detail: str, *, retry_after: int):
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})


class ServiceUnavailable(AppError):
    status, slug, title = 503, "service-unavailable", "Service unavailable"

    def __init__(self, detail: str):
        super().__init__(detail, headers={"Retry-After": str(DB_RETRY_AFTER_SECONDS)})


# Slugs the handlers emit outside AppError subclasses, documented with the others.
GENERIC_PROBLEMS: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    412: ("precondition-failed", "Precondition failed"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-error", "Request validation failed"),
    429: ("too-many-requests", "Too many requests"),
    500: ("internal-error", "Internal server error"),
    503: ("service-unavailable", "Service unavailable"),
}


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error and what it wraps, once each: SQLAlchemy wraps the driver's error, which may
    wrap the socket's."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = (
            current.__cause__
            or current.__context__
            or (current.orig if isinstance(current, DBAPIError) else None)
        )


def _means_unavailable(error: BaseException) -> bool:
    if isinstance(error, OSError | TimeoutError | PoolTimeout):
        return True  # refused, reset, unreachable, connect or pool timeout
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    sqlstate = getattr(error, "sqlstate", None)
    return isinstance(sqlstate, str) and (
        sqlstate in _UNAVAILABLE_SQLSTATES or sqlstate.startswith(_UNAVAILABLE_SQLSTATE_CLASSES)
    )


def database_unavailable(error: BaseException) -> bool:
    """Whether an error means the database cannot be reached now (503 and "retry later"), as
    opposed to a bug in a statement (500), anywhere in its chain of causes."""
    return any(_means_unavailable(cause) for cause in _causes(error))


def _generic(status: int) -> tuple[str, str]:
    return GENERIC_PROBLEMS.get(status, ("http-error", "HTTP error"))


def _clean_loc(loc: Any) -> list[str | int]:
    return [part if isinstance(part, int) else str(part) for part in loc]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        return problem_response(
            exc.status, exc.slug, exc.title, exc.detail, request=request, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": _clean_loc(e.get("loc", ())),
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
            for e in exc.errors()
        ]
        slug, title = _generic(422)
        return problem_response(
            422,
            slug,
            title,
            "The request did not match the schema; see errors.",
            request=request,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug, title = _generic(exc.status_code)
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
        headers = dict(exc.headers) if exc.headers else {}
        if exc.status_code == 405:
            # The router names only the first route it matched; list every method served here.
            allowed = route_index(request.app).allowed_methods(request.url.path)
            if allowed:
                headers["Allow"] = ", ".join(allowed)
        return problem_response(
            exc.status_code,
            slug,
            title,
            detail,
            request=request,
            headers=headers or None,
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(ConnectionError)
    @app.exception_handler(TimeoutError)
    # Every pooled connection busy for longer than the pool timeout: overloaded, so "later".
    @app.exception_handler(PoolTimeout)
    async def _database_down(request: Request, exc: Exception) -> JSONResponse:
        logger.warning("database unavailable: %s", type(exc).__name__)
        return _unavailable(request, exc)

    @app.exception_handler(DBAPIError)
    async def _dbapi(request: Request, exc: DBAPIError) -> JSONResponse:
        if database_unavailable(exc):
            logger.warning("database unavailable: %s", type(exc.orig).__name__)
            return _unavailable(request, exc)
        logger.exception("database error")
        slug, title = _generic(500)
        return problem_response(500, slug, title, request=request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if database_unavailable(exc):  # raised outside the routes (a middleware), or unwrapped
            logger.warning("database unavailable: %s", type(exc).__name__)
            return _unavailable(request, exc)
        logger.exception("unhandled error")
        slug, title = _generic(500)
        # Rendered outside the request-id middleware, so the header is set here.
        request_id = getattr(request.state, "request_id", None)
        return problem_response(
            500,
            slug,
            title,
            request=request,
            headers={"X-Request-ID": request_id} if request_id else None,
        )


def _unavailable(request: Request, exc: BaseException) -> JSONResponse:
    slug, title = _generic(503)
    headers = {"Retry-After": str(DB_RETRY_AFTER_SECONDS)}
    # Also rendered outside the request-id middleware (see ``_unexpected``).
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        headers["X-Request-ID"] = request_id
    # A pool timeout means every connection was busy for the whole wait (a burst), not that
    # the database is gone: the detail says which, for whoever reads the logs and the client.
    busy = any(isinstance(cause, PoolTimeout) for cause in _causes(exc))
    detail = (
        "Every database connection is busy; retry shortly."
        if busy
        else "The database is unreachable; retry shortly."
    )
    return problem_response(503, slug, title, detail, request=request, headers=headers)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the given error statuses."""
    # The problem+json content is attached to every error response by app.core.openapi.
    return {status: {"description": _generic(status)[1]} for status in statuses}
