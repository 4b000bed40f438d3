"""The only code that talks HTTP to Bitrix24 (the portal's inbound webhook REST API).

Bitrix24 meters every portal with a leaky bucket: each request adds one, the bucket drains by
``rate`` per second, and a request that would overflow ``burst`` gets 503 QUERY_LIMIT_EXCEEDED.
The client keeps its own bucket with the same parameters so we never cause that answer; when
the portal still says it (other apps share the bucket) or answers 429 OPERATION_TIME_LIMIT, the
client backs off a bounded number of times, then raises ``Bitrix24RetryLater`` carrying when
to try again: the caller (the worker) reschedules instead of sleeping for minutes.

Never called while an API request waits: only the worker and the benchmark use it.
"""

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

logger = logging.getLogger("app.integrations.bitrix24")
# httpx logs every request line, URL included, at INFO; ours carries the webhook's secret code.
logging.getLogger("httpx").setLevel(logging.WARNING)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

BATCH_LIMIT = 50  # ERROR_BATCH_LENGTH_EXCEEDED above this
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 60.0
# Longer waits than this are not slept through inside a call: the caller reschedules.
MAX_LOCAL_WAIT_SECONDS = 60.0


class Bitrix24Error(Exception):
    """An answer of the form {"error", "error_description"} (or a transport failure)."""

    retryable = False

    def __init__(self, code: str, description: str, *, status: int | None = None):
        super().__init__(f"{code or '(no code)'}: {description}")
        self.code = code
        self.description = description
        self.status = status
        # Not before this time (epoch seconds), when the answer said so (Retry-After).
        self.retry_at: float | None = None

    @property
    def summary(self) -> str:
        """What an admin reads: the portal's code (or "no code"), its HTTP status when there
        was one, and its own description, kept as the portal wrote it."""
        status = f" (HTTP {self.status})" if self.status else ""
        return f"{self.code or 'no code'}{status}: {self.description or 'no description'}"


class Bitrix24RequestError(Bitrix24Error):
    """The portal refused the request itself (bad parameters, unknown method, invalid value)."""


class Bitrix24NotFound(Bitrix24RequestError):
    """The object does not exist (any more): deleted in the CRM."""


class Bitrix24AuthError(Bitrix24Error):
    """Wrong or expired webhook code, missing scope or permission: no retry will help."""


class Bitrix24LimitExceeded(Bitrix24Error):
    """QUERY_LIMIT_EXCEEDED / OVERLOAD_LIMIT: the portal's request budget is spent."""

    retryable = True


class Bitrix24TimeLimit(Bitrix24Error):
    """OPERATION_TIME_LIMIT: the method's execution-time budget is spent until ``reset_at``."""

    retryable = True

    def __init__(
        self,
        code: str,
        description: str,
        *,
        status: int | None = None,
        reset_at: float | None = None,
    ):
        super().__init__(code, description, status=status)
        self.reset_at = reset_at


class Bitrix24Unavailable(Bitrix24Error):
    """A 5xx, a timeout or a broken connection."""

    retryable = True


class Bitrix24RetryLater(Exception):
    """Give up for now and try again in ``retry_after`` seconds (the worker reschedules)."""

    def __init__(self, retry_after: float, cause: Bitrix24Error):
        super().__init__(f"retry in {retry_after:.0f} s after {cause}")
        self.retry_after = retry_after
        self.cause = cause


_AUTH_CODES = {
    "NO_AUTH_FOUND",
    "expired_token",
    "invalid_token",
    "insufficient_scope",
    "ACCESS_DENIED",
    "INVALID_CREDENTIALS",
    "WRONG_AUTH_TYPE",
}
_LIMIT_CODES = {"QUERY_LIMIT_EXCEEDED", "OVERLOAD_LIMIT"}
_SERVER_CODES = {"INTERNAL_SERVER_ERROR", "ERROR_UNEXPECTED_ANSWER", "PORTAL_DELETED"}


def error_from(body: Mapping[str, Any], status: int | None = None) -> Bitrix24Error:
    """The typed error for an error body; the code may be the empty string."""
    code = str(body.get("error") or "")
    description = str(body.get("error_description") or "")
    if code in _LIMIT_CODES:
        return Bitrix24LimitExceeded(code, description, status=status)
    if code == "OPERATION_TIME_LIMIT":
        timing = body.get("time")
        reset_at = timing.get("operating_reset_at") if isinstance(timing, Mapping) else None
        return Bitrix24TimeLimit(
            code, description, status=status, reset_at=float(reset_at) if reset_at else None
        )
    if code in _AUTH_CODES or status in (401, 403):
        return Bitrix24AuthError(code, description, status=status)
    if code in _SERVER_CODES or (status is not None and status >= 500):
        return Bitrix24Unavailable(code, description, status=status)
    # Bitrix24 says "Not found" with an empty code (or ERROR_NOT_FOUND) for a missing object.
    if code in ("ERROR_NOT_FOUND", "NOT_FOUND") or description.strip().lower() == "not found":
        return Bitrix24NotFound(code, description, status=status)
    return Bitrix24RequestError(code, description, status=status)


def php_query(params: Mapping[str, Any]) -> str:
    """URL-encode nested parameters with PHP bracket keys, as batch commands must be written:
    {"fields": {"EMAIL": [{"VALUE": "a@b"}]}} -> fields[EMAIL][0][VALUE]=a%40b."""
    return urlencode(list(_flatten(params, "")))


def _flatten(value: Any, prefix: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}[{key}]" if prefix else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _flatten(item, f"{prefix}[{index}]")
    elif isinstance(value, bool):
        yield prefix, "Y" if value else "N"
    elif value is None:
        yield prefix, ""
    else:
        yield prefix, str(value)


def _section(value: Any) -> dict[str, Any]:
    """Batch sections are PHP arrays: an empty one arrives as [] rather than {}."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, list):
        return {str(index): item for index, item in enumerate(value)}
    return {}


class LeakyBucket:
    """The client half of the portal's limit: wait (never spin) until one more request fits."""

    def __init__(self, rate: float, capacity: int, *, clock: Clock, sleep: Sleep):
        self.rate = rate
        self.capacity = capacity
        self.clock = clock
        self.sleep = sleep
        self.level = 0.0
        self.updated = clock()
        self._lock = asyncio.Lock()

    def _drain(self) -> None:
        now = self.clock()
        # A clock stepping backwards drains nothing rather than overfilling.
        self.level = max(0.0, self.level - max(0.0, now - self.updated) * self.rate)
        self.updated = now

    async def acquire(self) -> None:
        async with self._lock:  # one waiter at a time keeps the order and the arithmetic
            while True:
                self._drain()
                if self.level + 1 <= self.capacity:
                    self.level += 1
                    return
                await self.sleep((self.level + 1 - self.capacity) / self.rate)

    def fill(self) -> None:
        """The portal says its bucket is full (others share it): pace ourselves from full."""
        self._drain()
        self.level = float(self.capacity)


@dataclass
class BatchResult:
    results: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, Bitrix24Error] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    nexts: dict[str, int] = field(default_factory=dict)


@dataclass
class CallStats:
    requests: int = 0
    retries: int = 0


class Bitrix24Client:
    """POSTs JSON to ``<webhook url><method>.json`` through an injected httpx.AsyncClient."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        webhook_url: str,
        *,
        rate: float = 2.0,
        burst: int = 50,
        timeout: float = 30.0,
        max_retries: int = 4,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ):
        self.http = http
        self.base = webhook_url.rstrip("/") + "/"
        self.timeout = httpx.Timeout(timeout)
        self.max_retries = max_retries
        self.clock = clock
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.bucket = LeakyBucket(rate, burst, clock=clock, sleep=sleep)
        self.stats = CallStats()
        # The last time-budget reset the portal announced (epoch seconds): a later
        # OPERATION_TIME_LIMIT that says none waits for it.
        self.last_reset_at: float | None = None

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        """One method; its ``result`` (a typed error otherwise)."""
        return (await self.call_raw(method, params))["result"]

    async def call_raw(
        self, method: str, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """One method; the whole answer (``result``, ``total``, ``next``, ``time``)."""
        attempt = 0
        while True:
            try:
                return await self._once(method, params or {})
            except Bitrix24Error as error:
                if not error.retryable:
                    raise
                delay = self._delay(error, attempt)
                if attempt >= self.max_retries or delay > MAX_LOCAL_WAIT_SECONDS:
                    raise Bitrix24RetryLater(delay, error) from error
                attempt += 1
                self.stats.retries += 1
                logger.info(
                    "bitrix24 %s: %s; retry %d in %.1f s", method, error.code, attempt, delay
                )
                await self.sleep(delay)

    async def batch(self, commands: Mapping[str, tuple[str, Mapping[str, Any]]]) -> BatchResult:
        """Run commands {key: (method, params)}, 50 per request; failures per command come
        back in ``errors`` (the request itself succeeds with HTTP 200)."""
        merged = BatchResult()
        items = list(commands.items())
        for start in range(0, len(items), BATCH_LIMIT):
            chunk = items[start : start + BATCH_LIMIT]
            cmd = {key: f"{method}?{php_query(params)}" for key, (method, params) in chunk}
            result = _section((await self.call_raw("batch", {"halt": 0, "cmd": cmd}))["result"])
            merged.results.update(_section(result.get("result")))
            for key, body in _section(result.get("result_error")).items():
                merged.errors[key] = error_from(body if isinstance(body, Mapping) else {})
            merged.totals.update(
                {
                    k: int(v)
                    for k, v in _section(result.get("result_total")).items()
                    if v is not None
                }
            )
            merged.nexts.update(
                {k: int(v) for k, v in _section(result.get("result_next")).items() if v is not None}
            )
        return merged

    async def _once(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        await self.bucket.acquire()
        self.stats.requests += 1
        try:
            response = await self.http.post(
                f"{self.base}{method}.json",
                json=params,
                timeout=self.timeout,
                follow_redirects=False,
            )
        except httpx.TimeoutException as exc:
            raise Bitrix24Unavailable("TIMEOUT", type(exc).__name__) from exc
        except httpx.TransportError as exc:
            raise Bitrix24Unavailable("TRANSPORT", type(exc).__name__) from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise error_from(
                {"error": "", "error_description": "unreadable answer"}, response.status_code
            )
        # The error code decides, not the status: QUERY_LIMIT_EXCEEDED may come with a 200.
        if "error" in body or response.status_code >= 400:
            error = error_from(body, response.status_code)
            if isinstance(error, Bitrix24LimitExceeded):
                self.bucket.fill()
            if isinstance(error, Bitrix24TimeLimit):
                if error.reset_at is not None:
                    self.last_reset_at = error.reset_at
                elif self.last_reset_at is not None and self.last_reset_at > self.clock():
                    error.reset_at = self.last_reset_at
            retry_header = response.headers.get("retry-after", "")
            if retry_header.isdigit():
                error.retry_at = self.clock() + int(retry_header)
            raise error
        if "result" not in body:
            raise Bitrix24Unavailable("", "answer without result", status=response.status_code)
        timing = body.get("time")
        reset_at = timing.get("operating_reset_at") if isinstance(timing, Mapping) else None
        if isinstance(reset_at, int | float):
            self.last_reset_at = float(reset_at)
        return body

    def _delay(self, error: Bitrix24Error, attempt: int) -> float:
        """Exponential backoff with jitter (half fixed, half random), or the portal's own
        reset time when that is later."""
        ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)
        delay = ceiling / 2 + self.rng.uniform(0, ceiling / 2)
        if isinstance(error, Bitrix24TimeLimit) and error.reset_at is not None:
            delay = max(delay, error.reset_at - self.clock())
        if error.retry_at is not None:
            delay = max(delay, error.retry_at - self.clock())
        return delay


def retry_after(error: Bitrix24Error, now: float) -> float:
    """When to come back after a batch command failed for a passing reason: the portal's
    announced reset when it gave one, else a minute."""
    if isinstance(error, Bitrix24TimeLimit) and error.reset_at is not None:
        return max(1.0, error.reset_at - now)
    if error.retry_at is not None:
        return max(1.0, error.retry_at - now)
    return BACKOFF_CAP_SECONDS


def client_from_settings(http: httpx.AsyncClient, settings: Any) -> Bitrix24Client:
    return Bitrix24Client(
        http,
        settings.bitrix24_webhook_url.get_secret_value(),
        rate=settings.bitrix24_rate_per_second,
        burst=settings.bitrix24_burst,
        timeout=settings.bitrix24_timeout_seconds,
        max_retries=settings.bitrix24_max_retries,
    )
