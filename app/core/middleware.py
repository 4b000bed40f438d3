"""Pure ASGI middleware: request ids, the access log and the body-size limit (all run before
auth), CORS with problem+json refusals, and the security headers every answer carries."""

import json
import logging
import re
import time
import uuid
from typing import Any

from fastapi import Depends, Request
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import GENERIC_PROBLEMS, PROBLEM_BASE
from app.core.logging import log_context
from app.core.metrics import observe_request
from app.core.routes import route_index
from app.core.tracing import tag_request

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
access_logger = logging.getLogger("app.access")


# An API answer is JSON (or CSV) for a program, never a page: no script, style, frame or
# fetch from it, and no page may frame it. The interactive docs load Swagger UI's script and
# styles, so they (and the document they read) go without it.
CONTENT_SECURITY_POLICY = b"default-src 'none'; frame-ancestors 'none'"
_DOCS_PATHS = ("/docs", "/openapi.json")
# Where ``no_store`` leaves its note for ``SecurityHeadersMiddleware``: the request's state is
# the scope's, so the note is there when the answer starts.
_NO_STORE_NOTE = "no_store"


def _note_no_store(request: Request) -> None:
    setattr(request.state, _NO_STORE_NOTE, True)


# A route dependency: the route's answers carry credentials (access and refresh tokens, a
# personal API token, a signing secret), which no cache (a proxy's, a browser's disk) may keep.
# A note rather than a header set by the route: routes that return a Response of their own
# would drop the headers of FastAPI's injected one.
NO_STORE = Depends(_note_no_store)


class SecurityHeadersMiddleware:
    """``X-Content-Type-Options: nosniff`` on every answer, the restrictive
    ``Content-Security-Policy`` on every answer but the docs', and ``Cache-Control: no-store``
    on the answers of routes that declare ``NO_STORE``. Outermost, so the answers of the other
    middleware (413, idempotency replays, CORS refusals) carry them too."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        is_docs = any(path == p or path.startswith(p + "/") for p in _DOCS_PATHS)
        state = scope.setdefault("state", {})

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                added = {b"x-content-type-options": b"nosniff"}
                if not is_docs:
                    added[b"content-security-policy"] = CONTENT_SECURITY_POLICY
                if state.get(_NO_STORE_NOTE):
                    added[b"cache-control"] = b"no-store"
                message["headers"] = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() not in added
                ] + list(added.items())
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RequestIdMiddleware:
    """Every response carries ``X-Request-ID``: the caller's own if it is sane, else a new one."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get("x-request-id", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        tag_request(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)


def route_template(scope: Scope) -> str | None:
    """The route's template (`/api/v1/members/{member_id}`), never the raw path: the path holds
    ids and would make every request its own series. None when no route serves it.

    A route outside the contract (`/metrics`, `/docs`) is taken from the router, which has
    its full path; the versioned API's routes from the contract, since the router names an
    included route by its path within its own router (`/me`), without the prefix."""
    route = scope.get("route")
    regex = getattr(route, "path_regex", None)
    if isinstance(regex, re.Pattern) and regex.match(scope["path"]):
        path = getattr(route, "path", None)
        if isinstance(path, str):
            return path
    return route_index(scope["app"]).template(scope["method"], scope["path"])


class AccessLogMiddleware:
    """One `app.access` line per request, and the request's fields (request id, method, then
    route and principal as they become known) on every line logged while it runs; the same
    request counted in the metrics. Inside ``RequestIdMiddleware``, which has chosen the id."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        request_id = scope.get("state", {}).get("request_id")
        with log_context(request_id=request_id, method=scope["method"]) as context:
            try:
                await self.app(scope, receive, send_recording)
            finally:
                # An exception escaping here becomes a 500 further out (the error handler).
                seconds = time.perf_counter() - started
                context["route"] = route_template(scope)
                context["status"] = status
                context["duration_ms"] = round(seconds * 1000, 2)
                observe_request(scope["method"], context["route"], status, seconds)
                access_logger.info(
                    "%s %s %s", scope["method"], context["route"] or "(no route)", status
                )


async def send_problem(
    send: Send,
    status: int,
    detail: str,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
    *,
    kind: tuple[str, str] | None = None,
) -> None:
    """A problem response sent from middleware, outside FastAPI's handlers. ``kind`` is
    (slug, title) when the status alone does not say what went wrong."""
    slug, title = kind or GENERIC_PROBLEMS[status]
    body = json.dumps(
        {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    ).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        *(extra_headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Refuses bodies over the limit with 413 before authentication or parsing.

    Content-Length is checked up front; chunked bodies are counted while they stream in. The
    body is buffered (it is at most the limit) and replayed to the app, so later layers that
    need the raw bytes (idempotency hashing, webhook signatures) read it for free.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, larger: dict[str, int] | None = None):
        self.app = app
        self.max_bytes = max_bytes
        # POST paths with a limit of their own (the CSV import of a season's form export).
        self.larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        if scope.get("method") == "POST":
            limit = self.larger.get(scope.get("path", ""), limit)
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is None and "transfer-encoding" not in headers:
            await self.app(scope, receive, send)
            return
        if declared is not None:
            if not declared.isdigit():
                await send_problem(send, 400, "Content-Length is not a number.")
                return
            if int(declared) > limit:
                await send_problem(send, 413, self._detail(limit))
                return
        # The chunks are joined once at the end: a large body is held once, not copied as it
        # grows and again when it is handed on.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                await send_problem(send, 413, self._detail(limit), [(b"connection", b"close")])
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        del chunks
        scope.setdefault("state", {})["raw_body"] = body
        await self.app(scope, _replay(body, receive), send)

    @staticmethod
    def _detail(limit: int) -> str:
        return f"The request body exceeds the limit of {limit} bytes."


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORS handling, with a refused preflight answered as problem+json (Starlette
    sends a plain-text 400, the one error body that would break the contract)."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        headers = {
            k: v
            for k, v in response.headers.items()
            if k.lower() not in ("content-type", "content-length")
        }
        slug, title = GENERIC_PROBLEMS[400]
        detail = bytes(response.body).decode(errors="replace")
        return Response(
            json.dumps(
                {"type": PROBLEM_BASE + slug, "title": title, "status": 400, "detail": detail + "."}
            ),
            status_code=400,
            headers=headers,
            media_type="application/problem+json",
        )
