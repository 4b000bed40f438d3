"""A minimal webhook receiver for benchmarks (its own process): answers 204 to every POST and
counts the `webhook-id`s it saw; `GET /stats` reports totals, `GET /ids` every id seen. Raw
ASGI, so the receiver costs as little as possible."""

import json
from collections import Counter
from typing import Any

seen: Counter[str] = Counter()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    if scope["method"] == "GET":
        if scope["path"] == "/ids":
            body = json.dumps(sorted(seen)).encode()
        else:
            body = json.dumps({"total": sum(seen.values()), "unique": len(seen)}).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
        return
    if scope["method"] == "DELETE":
        seen.clear()
    for name, value in scope["headers"]:
        if name == b"webhook-id":
            seen[value.decode()] += 1
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})
