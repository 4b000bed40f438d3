"""Real HTTP servers on the loopback address for tests of outbound calls.

``serve(app)`` runs any ASGI app under uvicorn on a free port for the duration of a block.
``Receiver`` is a webhook receiver that records what arrived and answers as scripted.
"""

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 and yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        # A hanging handler must not hold the test at shutdown: cut it off after a second.
        uvicorn.Config(
            app, log_level="warning", lifespan="off", access_log=False, timeout_graceful_shutdown=1
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no started event
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class Arrival:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers each request with the next scripted reply (then ``default``), after ``delay``."""

    replies: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    default: int = 200
    delay: float = 0.0
    arrivals: list[Arrival] = field(default_factory=list)
    on_arrival: Callable[[Arrival], None] | None = None
    # Set: every request waits until the event is set (a receiver that hangs until released).
    hold: asyncio.Event | None = None

    def app(self) -> Starlette:
        async def receive(request: Request) -> Response:
            arrival = Arrival(dict(request.headers), await request.body())
            self.arrivals.append(arrival)
            if self.on_arrival:
                self.on_arrival(arrival)
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.hold is not None:
                await self.hold.wait()
            status, headers = self.replies.pop(0) if self.replies else (self.default, {})
            return Response(f"status {status}", status_code=status, headers=headers)

        return Starlette(routes=[Route("/{path:path}", receive, methods=["POST"])])
