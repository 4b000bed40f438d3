"""A webhook receiver for the fault benchmark (its own process). Every POST waits
``BENCH_RECEIVER_DELAY`` seconds (0: answers at once), then answers 204; the wall-clock time
each `webhook-id` first arrived is kept. `GET /arrivals` returns them as JSON."""

import asyncio
import json
import os
import time
from typing import Any

DELAY = float(os.environ.get("BENCH_RECEIVER_DELAY", "0"))
arrivals: dict[str, float] = {}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    if scope["method"] == "GET":
        body = json.dumps(arrivals).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
        return
    now = time.time()
    for name, value in scope["headers"]:
        if name == b"webhook-id":
            arrivals.setdefault(value.decode(), now)
    if DELAY:
        await asyncio.sleep(DELAY)
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})
