"""The API over HTTP: one httpx client, problem+json turned into ``ApiError``, cursors followed.

Safe requests (GETs, and POSTs that carry an ``Idempotency-Key``) are retried on a dropped
connection or a 502/503/504, so a flaky network does not fail a long export halfway and a
create is never made twice: the retry with the same key gets the first answer replayed.
"""

import time
import uuid
from collections.abc import Callable, Iterator
from importlib import metadata
from typing import Any

import httpx

API_PREFIX = "/api/v1"
MAX_PAGE = 100  # the API's largest page (app.core.pagination.MAX_LIMIT)
RETRY_STATUSES = frozenset({502, 503, 504})
ATTEMPTS = 3
MAX_RETRY_WAIT = 10.0


def _user_agent() -> str:
    try:
        return f"dl/{metadata.version('digital-leaders')}"
    except metadata.PackageNotFoundError:
        return "dl"


class ApiError(Exception):
    """The API answered with an error (a problem+json document), or could not be reached."""

    def __init__(
        self,
        title: str,
        detail: str | None = None,
        *,
        status: int | None = None,
        problem: dict[str, Any] | None = None,
    ):
        super().__init__(f"{title}: {detail}" if detail else title)
        self.title = title
        self.detail = detail
        self.status = status
        self.problem = problem or {}

    @property
    def field_errors(self) -> list[str]:
        """Validation errors as `location: message` lines (the problem's `errors` extension)."""
        lines = []
        for error in self.problem.get("errors") or []:
            loc = ".".join(str(part) for part in error.get("loc", []))
            lines.append(f"{loc}: {error.get('msg', '')}" if loc else str(error.get("msg", "")))
        return lines

    @classmethod
    def from_response(cls, response: httpx.Response) -> "ApiError":
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "title" in body:
            return cls(
                str(body["title"]), body.get("detail"), status=response.status_code, problem=body
            )
        # Not our API (a proxy's error page, a wrong URL): say what came back, briefly.
        text = response.text.strip().splitlines()[0][:200] if response.text.strip() else None
        return cls(
            f"HTTP {response.status_code} {response.reason_phrase}",
            text,
            status=response.status_code,
        )


class ApiClient:
    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        headers = {"User-Agent": _user_agent(), "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url + API_PREFIX,
            headers=headers,
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> "ApiClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        idempotent: bool = False,
        token: str | None = None,
    ) -> httpx.Response:
        """One call; ``idempotent`` sends a fresh Idempotency-Key (a creating POST), which
        makes the call safe to retry. ``token`` overrides the client's credential."""
        sent = dict(headers or {})
        if idempotent:
            sent["Idempotency-Key"] = str(uuid.uuid4())
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        retry = method == "GET" or idempotent
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        for attempt in range(1, ATTEMPTS + 1):
            try:
                response = self._http.request(
                    method, path, json=json, params=clean, content=content, headers=sent
                )
            except httpx.TransportError as error:
                if retry and attempt < ATTEMPTS:
                    self._sleep(0.5 * 3 ** (attempt - 1))
                    continue
                raise ApiError(
                    "Cannot reach the API", f"{self.base_url}: {error or type(error).__name__}"
                ) from error
            if retry and response.status_code in RETRY_STATUSES and attempt < ATTEMPTS:
                self._sleep(self._retry_wait(response, attempt))
                continue
            if response.status_code >= 400:
                raise ApiError.from_response(response)
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")

    @staticmethod
    def _retry_wait(response: httpx.Response, attempt: int) -> float:
        try:
            wait = float(response.headers.get("Retry-After", ""))
        except ValueError:
            wait = 0.5 * 3 ** (attempt - 1)
        return min(max(wait, 0.0), MAX_RETRY_WAIT)

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params).json()

    def post(self, path: str, body: Any = None, *, idempotent: bool = False) -> Any:
        response = self.request("POST", path, json=body, idempotent=idempotent)
        return response.json() if response.content else None

    def delete(self, path: str, *, token: str | None = None) -> None:
        self.request("DELETE", path, token=token)

    def paginate(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        limit: int | None = None,
        on_page: Callable[[int], None] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list route, following ``next_cursor`` to the end or until ``limit``
        items came; ``on_page`` hears how many items each page brought."""
        remaining = limit
        cursor: str | None = None
        while remaining is None or remaining > 0:
            size = MAX_PAGE if remaining is None else min(MAX_PAGE, remaining)
            page = self.get(path, **(params or {}), limit=size, cursor=cursor)
            items = page["items"]
            if on_page is not None:
                on_page(len(items))
            yield from items
            if remaining is not None:
                remaining -= len(items)
            cursor = page.get("next_cursor")
            if not cursor or not items:
                return
