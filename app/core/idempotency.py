"""``Idempotency-Key`` on creating POSTs, after the IETF draft and pretix's practice.

A retry with the same key replays the first response; a retry while the first is still in
flight gets 409; the same key with another body gets 422. Keys are scoped to the caller (the
member behind the token, or the client address for anonymous calls) and the route, kept 24 h.
5xx outcomes are not kept, so a retry after a server error runs again. Records live in the
database so every API process agrees.

A replay is an answer like any other: it goes only to a caller who is still authenticated as
the one who asked (the routes' own check, ``authenticate``: a revoked access token or API
token gets 401, not the stored answer). An answer that carries a secret shown once (a personal
API token, a webhook signing secret; its route says so with ``answer_holds_secret``) is not
kept: the record keeps a 409 saying the thing exists and where it is listed. The retry does not
create it twice, and the secret lives nowhere but in the first answer (never in this table).

"In flight" is a lease, not a lock: a request whose process was killed, or whose outcome could
not be stored because the database went away, leaves its record without a response. After the
lease (``idempotency_lease_seconds``, far longer than any request runs) a retry takes the key
over and runs the request again; the business rules (one registration per member and event,
conditional updates) answer it as they would answer any repeat. A late outcome of the first
request is then dropped, since the record it would update is gone.
"""

import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Depends, Request
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import (
    DB_RETRY_AFTER_SECONDS,
    PROBLEM_BASE,
    Unauthorized,
    database_unavailable,
)
from app.core.middleware import send_problem
from app.core.routes import route_index
from app.core.security import (
    API_TOKEN_PREFIX,
    InvalidToken,
    TokenCodec,
    bearer_credential,
    token_digest,
)
from app.models.idempotency import IdempotencyRecord

logger = logging.getLogger("app.idempotency")

HEADER = "idempotency-key"
MAX_KEY_LENGTH = 255
# Visible ASCII and spaces: what a header carries safely. The contract documents the same text.
KEY_PATTERN_TEXT = "^[ -~]+$"
KEY_PATTERN = re.compile(KEY_PATTERN_TEXT)
# Problem kinds of this layer: (slug, title).
INVALID_KEY = ("invalid-idempotency-key", "Invalid Idempotency-Key")
KEY_REUSED = ("idempotency-key-reused", "Idempotency-Key reused with another request")
IN_FLIGHT = ("idempotency-key-in-flight", "Request with this Idempotency-Key in progress")
SECRET_NOT_KEPT = ("idempotent-answer-not-kept", "The answer held a secret and is not kept")
PROBLEM_KINDS = (INVALID_KEY, KEY_REUSED, IN_FLIGHT, SECRET_NOT_KEPT)
# Response headers worth replaying; everything else is regenerated.
_REPLAYED_HEADERS = {b"content-type", b"location", b"etag"}
# Where ``answer_holds_secret`` leaves its note for the middleware: the request's state, which
# is the scope's, so the middleware reads it once the route has answered.
_SECRET_NOTE = "idempotency_secret_listed_at"

# The routes' authentication (``app.auth.service.authenticate``), handed in by ``app.main``
# because core may not import ``app.auth``: a principal for a bearer credential, or
# ``Unauthorized``.
Authenticate = Callable[[AsyncSession, TokenCodec, str], Awaitable[object]]


def answer_holds_secret(listed_at: str) -> Any:
    """A route dependency: this route's success answer carries a secret shown only once, so
    it is not kept for a replay. ``listed_at`` tells the retrying client where the thing it
    created is listed (the 409 a replay gets says so)."""

    def note(request: Request) -> None:
        setattr(request.state, _SECRET_NOTE, listed_at)

    return Depends(note)


def _secret_not_kept(listed_at: str) -> tuple[int, dict[str, str], bytes]:
    status = 409
    slug, title = SECRET_NOT_KEPT
    detail = (
        "The first answer to this Idempotency-Key held a secret, which is not kept for a "
        f"replay. It was created: {listed_at}."
    )
    body = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    return status, {"content-type": "application/problem+json"}, json.dumps(body).encode()


@dataclass(frozen=True, slots=True)
class Begin:
    record_id: object | None = None  # set: go ahead and run the request
    replay: IdempotencyRecord | None = None
    in_flight: bool = False
    mismatch: bool = False


async def begin(
    sessionmaker: async_sessionmaker[AsyncSession],
    caller: str,
    key: str,
    request_hash: str,
    ttl: timedelta,
    lease: timedelta,
) -> Begin:
    now = datetime.now(UTC)
    for _ in range(2):
        async with sessionmaker() as session:
            record = IdempotencyRecord(
                caller=caller,
                key=key,
                request_hash=request_hash,
                created_at=now,
                expires_at=now + ttl,
            )
            session.add(record)
            try:
                await session.commit()
                return Begin(record_id=record.id)
            except IntegrityError:
                await session.rollback()
            existing = (
                await session.execute(
                    select(IdempotencyRecord).where(
                        IdempotencyRecord.caller == caller, IdempotencyRecord.key == key
                    )
                )
            ).scalar_one_or_none()
            if existing is None:
                continue  # finished and expired between our insert and read: try again
            if existing.expires_at <= now:
                await session.execute(
                    delete(IdempotencyRecord).where(IdempotencyRecord.id == existing.id)
                )
                await session.commit()
                continue
            if existing.request_hash != request_hash:
                return Begin(mismatch=True)
            if existing.response_status is None:
                if existing.created_at > now - lease:
                    return Begin(in_flight=True)
                # The first request died without an outcome: the key is free again. Only a
                # record still without a response is removed, so racing retries remove it once.
                await session.execute(
                    delete(IdempotencyRecord).where(
                        IdempotencyRecord.id == existing.id,
                        IdempotencyRecord.response_status.is_(None),
                    )
                )
                await session.commit()
                continue
            return Begin(replay=existing)
    return Begin(in_flight=True)


async def finish(
    sessionmaker: async_sessionmaker[AsyncSession],
    record_id: object,
    status: int,
    headers: dict[str, str],
    body: bytes,
) -> None:
    """Store the outcome, just before the response is sent. A failure here is logged, not
    raised (the request itself succeeded): the record stays in flight until its lease runs
    out, and a retry then runs the request again."""
    try:
        async with sessionmaker() as session:
            await session.execute(
                update(IdempotencyRecord)
                .where(IdempotencyRecord.id == record_id)
                .values(response_status=status, response_headers=headers, response_body=body)
            )
            await session.commit()
    except Exception as error:
        _log_unstored(error, "outcome")


async def abandon(sessionmaker: async_sessionmaker[AsyncSession], record_id: object) -> None:
    """Free the key (the request failed). A failure here is logged, as in ``finish``."""
    try:
        async with sessionmaker() as session:
            await session.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id)
            )
            await session.commit()
    except Exception as error:
        _log_unstored(error, "release")


def _log_unstored(error: Exception, what: str) -> None:
    if database_unavailable(error):
        logger.warning(
            "idempotency %s not stored, database unavailable: %s", what, type(error).__name__
        )
    else:
        logger.exception("idempotency %s not stored", what)


async def prune(session: AsyncSession, now: datetime) -> int:
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def caller_of(scope: Scope, codec: TokenCodec) -> str | None:
    """Who is asking, without a database read. None: the credential is bad (auth will 401)."""
    authorization = Headers(scope=scope).get("authorization")
    if authorization is None:
        client = scope.get("client")
        return f"anon:{client[0] if client else 'unknown'}"
    credential = bearer_credential(authorization)
    if credential is None:
        return None
    if credential.startswith(API_TOKEN_PREFIX):
        return f"pat:{token_digest(credential)}"
    try:
        return f"member:{codec.decode(credential).subject}"
    except InvalidToken:
        return None


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, ttl: timedelta, lease: timedelta, authenticate: Authenticate):
        self.app = app
        self.ttl = ttl
        self.lease = lease
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        key = Headers(scope=scope).get(HEADER)
        if key is None or not route_index(scope["app"]).creates("POST", scope["path"]):
            await self.app(scope, receive, send)
            return
        if len(key) > MAX_KEY_LENGTH or not KEY_PATTERN.match(key):
            await send_problem(
                send,
                400,
                f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters.",
                kind=INVALID_KEY,
            )
            return
        state = scope["app"].state
        caller = caller_of(scope, state.token_codec)
        if caller is None:
            await self.app(scope, receive, send)
            return
        body: bytes = scope.get("state", {}).get("raw_body", b"")
        request_hash = hashlib.sha256(scope["path"].encode() + b"\n" + body).hexdigest()
        scoped_caller = f"{caller}|POST|{scope['path']}"
        sessionmaker = state.sessionmaker
        try:
            outcome = await begin(
                sessionmaker, scoped_caller, key, request_hash, self.ttl, self.lease
            )
        except Exception as error:
            if not database_unavailable(error):
                raise
            logger.warning("database unavailable: %s", type(error).__name__)
            await send_problem(
                send,
                503,
                "The database is unreachable; retry shortly.",
                [(b"retry-after", str(DB_RETRY_AFTER_SECONDS).encode())],
            )
            return
        if outcome.mismatch:
            await send_problem(
                send,
                422,
                "This Idempotency-Key was used with another request "
                "body; use a new key for a new request.",
                kind=KEY_REUSED,
            )
            return
        if outcome.in_flight:
            await send_problem(
                send,
                409,
                "A request with this Idempotency-Key is still being processed; retry later.",
                [(b"retry-after", b"1")],
                kind=IN_FLIGHT,
            )
            return
        if outcome.replay is not None:
            refused = await self._refused(scope, caller, sessionmaker)
            if refused is not None:
                await send_problem(send, 401, refused, [(b"www-authenticate", b"Bearer")])
                return
            await _replay(send, outcome.replay)
            return
        await self._run_and_store(scope, receive, send, sessionmaker, outcome.record_id)

    async def _refused(
        self, scope: Scope, caller: str, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> str | None:
        """Why the caller may not have the stored answer (None: they may). ``caller_of`` only
        read the credential; a replay runs no route, so the routes' check runs here: the
        access token's version and the member's erasure, the API token's revocation and
        expiry. An anonymous caller holds nothing to revoke."""
        if caller.startswith("anon:"):
            return None
        credential = bearer_credential(Headers(scope=scope).get("authorization")) or ""
        try:
            async with sessionmaker() as session:
                await self.authenticate(session, scope["app"].state.token_codec, credential)
                await session.commit()  # an API token's last use is recorded, as on a route
        except Unauthorized as error:
            return error.detail or "Authentication required."
        return None

    async def _run_and_store(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        sessionmaker: async_sessionmaker[AsyncSession],
        record_id: object,
    ) -> None:
        status = 500
        headers: dict[str, str] = {}
        chunks: list[bytes] = []
        start: Message | None = None
        settled = False

        async def capture(message: Message) -> None:
            # The response is held until its outcome is stored: a client that has an answer
            # gets the same one on a retry, even if the process dies right after sending it.
            nonlocal status, start, settled
            if message["type"] == "http.response.start":
                start = message
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() in _REPLAYED_HEADERS:
                        headers[name.decode().lower()] = value.decode()
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            settled = True
            listed_at = scope.get("state", {}).get(_SECRET_NOTE)
            if status >= 500:
                await abandon(sessionmaker, record_id)
            elif listed_at is not None and status < 300:
                await finish(sessionmaker, record_id, *_secret_not_kept(listed_at))
            else:
                await finish(sessionmaker, record_id, status, headers, body)
            await send(start)
            await send({"type": "http.response.body", "body": body})

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            if not settled:
                await abandon(sessionmaker, record_id)
            raise
        if not settled:  # no complete response: nothing to replay
            await abandon(sessionmaker, record_id)


async def _replay(send: Send, record: IdempotencyRecord) -> None:
    body = record.response_body or b""
    headers = [(k.encode(), v.encode()) for k, v in (record.response_headers or {}).items()]
    headers += [(b"content-length", str(len(body)).encode()), (b"idempotent-replayed", b"true")]
    await send(
        {"type": "http.response.start", "status": record.response_status or 200, "headers": headers}
    )
    await send({"type": "http.response.body", "body": body})
