"""The only code that calls Timepad over HTTP: the orders of an event, page by page."""

from collections.abc import AsyncIterator
from typing import Any

import httpx

PAGE = 100


class TimepadError(Exception):
    pass


class TimepadClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str, token: str):
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.token = token

    async def orders(self, event_id: int) -> AsyncIterator[dict[str, Any]]:
        """Every order of the event: ``limit``/``skip`` until ``skip >= total``."""
        skip = 0
        while True:
            try:
                response = await self.http.get(
                    f"{self.base_url}/v1/events/{event_id}/orders",
                    params={"limit": PAGE, "skip": skip},
                    headers={"Authorization": f"Bearer {self.token}"},
                )
            except httpx.HTTPError as exc:
                raise TimepadError(f"Timepad is unreachable: {type(exc).__name__}") from exc
            if response.status_code != 200:
                raise TimepadError(f"Timepad answered {response.status_code}")
            try:
                body = response.json()
                values, total = body.get("values") or [], int(body.get("total") or 0)
            except (ValueError, AttributeError, TypeError) as exc:
                raise TimepadError("Timepad's answer is not the documented shape") from exc
            for order in values:
                yield order
            skip += PAGE
            if skip >= total or not values:
                return
