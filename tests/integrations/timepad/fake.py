"""A fake Timepad: its orders API (Bearer token, limit/skip paging, the documented answer
shape) as an ASGI app, and signed webhook bodies in both of Timepad's payload shapes."""

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

TOKEN = "timepad-test-token"


def order(
    order_id: int,
    event_id: int,
    email: str,
    status: str,
    name: str = "Иван",
    surname: str = "Смирнов",
) -> dict[str, Any]:
    """The order shape (the current webhook and the orders API)."""
    return {
        "id": order_id,
        "created_at": "2026-11-20T10:00:00+0300",
        "status": {"name": status, "title": status},
        "mail": email,
        "event": {"id": event_id},
        "answers": {"name": name, "surname": surname},
        "tickets": [{"id": order_id * 10, "number": str(order_id)}],
    }


def legacy(
    order_id: int,
    event_id: int,
    email: str,
    status: str,
    name: str = "Владимир",
    surname: str = "Смирнов",
) -> dict[str, Any]:
    """The legacy flat ticket shape."""
    return {
        "id": f"{order_id}:{order_id * 7}",
        "event_id": event_id,
        "organization_id": 29963,
        "order_id": str(order_id),
        "reg_date": "2015-07-24 19:04:37",
        "status": "забронировано",
        "status_raw": status,
        "email": email,
        "surname": surname,
        "name": name,
        "attended": False,
        "answers": [{"id": 1, "type": "text", "name": "E-mail", "value": email}],
        "aux": [],
    }


def body_of(payload: dict[str, Any]) -> bytes:
    # Timepad escapes non-ASCII as \\uXXXX; the signature covers these exact bytes.
    return json.dumps(payload, ensure_ascii=True).encode()


def signature(secret: str, body: bytes) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


@dataclass
class FakeTimepad:
    orders: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    down: bool = False
    requests: int = 0

    def app(self) -> Starlette:
        async def list_orders(request: Request) -> JSONResponse:
            self.requests += 1
            if self.down:
                return JSONResponse({"response_status": {"error_code": 503}}, status_code=503)
            if request.headers.get("authorization") != f"Bearer {TOKEN}":
                return JSONResponse({"response_status": {"error_code": 401}}, status_code=401)
            event_id = int(request.path_params["event_id"])
            limit = min(int(request.query_params.get("limit", 10)), 250)
            skip = int(request.query_params.get("skip", 0))
            values = self.orders.get(event_id, [])
            return JSONResponse({"total": len(values), "values": values[skip : skip + limit]})

        return Starlette(routes=[Route("/v1/events/{event_id:int}/orders", list_orders)])
