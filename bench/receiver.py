"""A minimal webhook receiver for benchmarks (its own process): answers 204 to every POST,
after ``BENCH_RECEIVER_DELAY`` seconds (0, the default: at once; the fault benchmark uses 30 for
a receiver that hangs), and counts the `webhook-id`s it saw. `GET /stats` reports totals,
`GET /ids` every id seen, `GET /arrivals` the wall-clock time each id first arrived. Raw ASGI,
so the receiver costs as little as possible."""

import asyncio
import json
import os
import time
from collections import Counter
from typing import Any

DELAY = float(os.environ.get("BENCH_RECEIVER_DELAY", "0"))
seen: Counter[str] = Counter()
first_arrival: dict[str, float] = {}


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
        elif scope["path"] == "/arrivals":
            body = json.dumps(first_arrival).encode()
        else:
            body = json.dumps({"total": sum(seen.values()), "unique": len(seen)}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return
    if scope["method"] == "DELETE":
        seen.clear()
        first_arrival.clear()
    now = time.time()
    for name, value in scope["headers"]:
        if name == b"webhook-id":
            seen[value.decode()] += 1
            first_arrival.setdefault(value.decode(), now)
    if DELAY:
        await asyncio.sleep(DELAY)
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})
