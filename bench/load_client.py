"""The load process of ``bench.load``: reads a plan (JSON) from a file, loads the API over
real sockets (httpx; the race on lean connections) for a bounded time, and writes per-route
timings and status counts (JSON) to another file. It runs as its own process so that
generating the load does not share an event loop (or a GIL) with the orchestrator.

``python -m bench.load_client PLAN.json RESULT.json``

Three modes:
- ``mix``: the event-day mix (browsing, the registration race, the door, Timepad webhooks,
  survey answers), every actor a coroutine, each request timed and recorded under its route;
- ``race``: the registration race alone (``bench.race``);
- ``single``: ``connections`` closed loops against one URL (the ceiling and its full-stack
  twin), the same client and connection count as the mix's browsers.
"""

import asyncio
import hashlib
import hmac
import json
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx

# Every request waits at most this long; a slower answer is recorded as a timeout.
REQUEST_TIMEOUT_SECONDS = 30.0
# A connection idle this long is closed by the client. uvicorn closes idle connections after
# 5 s (--timeout-keep-alive); a client reusing one the server is closing at that instant gets
# a reset (its request arrives at a socket being closed). The margin covers the time a busy
# client takes between reading a response and reusing the connection.
KEEPALIVE_SECONDS = 2.0
SAMPLES = 10
BROWSE_MIX = (  # (route label, weight)
    ("GET /api/v1/events", 25),
    ("GET /api/v1/events/{id}", 25),
    ("GET /api/v1/members", 20),
    ("GET /api/v1/members/{id}", 30),
)


@dataclass
class Recorder:
    """Latencies (ms) and status codes by route; transport errors by exception name."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    # The first few failures in full (a 5xx body, a transport error), to say why.
    samples: list[str] = field(default_factory=list)

    async def request(
        self, client: httpx.AsyncClient, route: str, method: str, url: str, **kwargs: Any
    ) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await client.request(method, url, **kwargs)
        except httpx.HTTPError as error:
            self.statuses[route][type(error).__name__] += 1
            self._sample(
                f"{route}: {type(error).__name__} {error!r} after "
                f"{time.perf_counter() - started:.1f} s"
            )
            return None
        self.latencies[route].append((time.perf_counter() - started) * 1000)
        self.statuses[route][str(response.status_code)] += 1
        if response.status_code >= 500:
            self._sample(f"{route}: {response.status_code} {response.text[:200]}")
        return response

    def _sample(self, text: str) -> None:
        if len(self.samples) < SAMPLES:
            self.samples.append(text)

    def summary(self) -> dict[str, Any]:
        return {
            route: {
                "latencies_ms": self.latencies.get(route, []),
                "statuses": dict(self.statuses[route]),
            }
            for route in self.statuses
        }


class LeanConnection:
    """One keep-alive HTTP/1.1 connection that writes a request and reads a Content-Length
    answer, nothing more. httpx spends 10 to 15 ms of CPU per request of the race (200
    connections at once), more than the server it measures; on a machine shared with the
    server that is CPU taken from it. This costs a few hundred microseconds."""

    def __init__(self, base_url: str) -> None:
        url = httpx.URL(base_url)
        self.host, self.port = url.host, url.port or 80
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(
        self, method: str, path: str, token: str, body: bytes | None = None
    ) -> tuple[int, bytes]:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: Bearer {token}\r\nAccept: application/json\r\n"
        )
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        writer.write(head.encode() + b"\r\n" + (body or b""))
        await writer.drain()
        status_line, *header_lines = (await reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")
        headers = dict(
            (name.strip().lower(), value.strip())
            for name, _, value in (line.partition(":") for line in header_lines if line)
        )
        if "content-length" not in headers:
            raise httpx.RemoteProtocolError(f"no Content-Length in {status_line!r}")
        content = await reader.readexactly(int(headers["content-length"]))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return int(status_line.split(" ", 2)[1]), content

    async def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _client(base_url: str, connections: int) -> httpx.AsyncClient:
    # As many connections as concurrent requests: none waits for a free connection in the
    # pool, so the timings are the server's.
    limits = httpx.Limits(
        max_connections=connections,
        max_keepalive_connections=connections,
        keepalive_expiry=KEEPALIVE_SECONDS,
    )
    return httpx.AsyncClient(
        base_url=base_url, limits=limits, timeout=httpx.Timeout(REQUEST_TIMEOUT_SECONDS, pool=None)
    )


async def _browse(
    client: httpx.AsyncClient, rec: Recorder, plan: dict[str, Any], rng: random.Random, stop: float
) -> None:
    routes = [r for r, _ in BROWSE_MIX]
    weights = [w for _, w in BROWSE_MIX]
    while time.monotonic() < stop:
        headers = _auth(rng.choice(plan["browser_tokens"]))
        route = rng.choices(routes, weights)[0]
        if route == "GET /api/v1/events":
            url = "/api/v1/events?limit=20"
        elif route == "GET /api/v1/events/{id}":
            url = f"/api/v1/events/{rng.choice(plan['event_ids'])}"
        elif route == "GET /api/v1/members":
            url = "/api/v1/members?limit=20"
        else:
            url = f"/api/v1/members/{rng.choice(plan['member_ids'])}"
        await rec.request(client, route, "GET", url, headers=headers)


REGISTER = "POST /api/v1/events/{id}/registrations"
CONFIRM = "POST /api/v1/registrations/{id}/confirm"


async def _race(base_url: str, rec: Recorder, race: dict[str, Any]) -> dict[str, int]:
    """Every member registers and at once confirms, all at the same instant; one connection
    each, as 200 phones would, opened before the start (``LeanConnection``s: the racers'
    client must not take the CPU the server needs)."""
    await asyncio.sleep(race["at_seconds"])
    outcomes: Counter[str] = Counter()
    connections = [LeanConnection(base_url) for _ in race["tokens"]]
    for connection in connections:  # connected, so that the start is the requests' alone
        connection._streams = await asyncio.open_connection(connection.host, connection.port)

    async def step(
        connection: LeanConnection, route: str, path: str, token: str, body: bytes | None
    ) -> tuple[int, dict[str, Any]] | None:
        started = time.perf_counter()
        try:
            status, content = await connection.request("POST", path, token, body)
        except (OSError, asyncio.IncompleteReadError, httpx.HTTPError) as error:
            rec.statuses[route][type(error).__name__] += 1
            rec._sample(f"{route}: {type(error).__name__} {error!r}")
            return None
        rec.latencies[route].append((time.perf_counter() - started) * 1000)
        rec.statuses[route][str(status)] += 1
        if status >= 500:
            rec._sample(f"{route}: {status} {content[:200]!r}")
        return status, json.loads(content) if content else {}

    # At most this many racers at once (all of them unless the plan says otherwise).
    gate = asyncio.Semaphore(race.get("concurrency") or len(connections))

    async def one(connection: LeanConnection, token: str) -> None:
        async with gate:
            await racer(connection, token)

    async def racer(connection: LeanConnection, token: str) -> None:
        path = f"/api/v1/events/{race['event_id']}/registrations"
        created = await step(connection, REGISTER, path, token, b'{"source": "ads"}')
        if created is None or created[0] != 201:
            outcomes[f"register answered {created[0] if created else 'failed'}"] += 1
            return
        path = f"/api/v1/registrations/{created[1]['id']}/confirm"
        confirmed = await step(connection, CONFIRM, path, token, None)
        if confirmed is None:
            outcomes["confirm failed"] += 1
        elif confirmed[0] != 200:
            outcomes[f"confirm answered {confirmed[0]}"] += 1
        else:
            outcomes[confirmed[1]["status"]] += 1

    try:
        await asyncio.gather(*(one(c, t) for c, t in zip(connections, race["tokens"], strict=True)))
    finally:
        for connection in connections:
            await connection.close()
    return dict(outcomes)


async def _door(client: httpx.AsyncClient, rec: Recorder, door: dict[str, Any], stop: float) -> int:
    """Scanners at the door check confirmed registrations in, one scan after another."""
    queue = list(door["registration_ids"])
    checked = 0

    async def scanner(number: int) -> None:
        nonlocal checked
        while queue and time.monotonic() < stop:
            registration_id = queue.pop()
            response = await rec.request(
                client,
                "POST /api/v1/registrations/{id}/check-in",
                "POST",
                f"/api/v1/registrations/{registration_id}/check-in",
                headers=_auth(door["staff_token"]),
                json={"nonce": f"door-{number}-{registration_id.replace('-', '')[:20]}"},
            )
            if response is not None and response.status_code == 200:
                checked += 1
            await asyncio.sleep(door["pause_seconds"])

    await asyncio.gather(*(scanner(n) for n in range(door["scanners"])))
    return checked


def _timepad_body(order_id: int, event_id: int) -> bytes:
    return json.dumps(
        {
            "id": order_id,
            "status": {"name": "paid", "title": "оплачено"},
            "mail": f"guest{order_id}@example.com",
            "event": {"id": event_id},
            "answers": {"name": "Гость", "surname": str(order_id)},
        },
        ensure_ascii=True,
    ).encode()


async def _timepad(
    client: httpx.AsyncClient,
    rec: Recorder,
    timepad: dict[str, Any],
    rng: random.Random,
    stop: float,
) -> list[int]:
    """Paid orders at a steady rate, signed as Timepad signs them; some sent twice, as
    Timepad does when an answer is slow. Returns the order ids answered 202."""
    accepted: set[int] = set()
    sent: list[int] = []
    tasks: set[asyncio.Task[None]] = set()
    secret = timepad["secret"].encode()

    async def one(order_id: int) -> None:
        body = _timepad_body(order_id, timepad["event_id"])
        signature = hmac.new(secret, body, hashlib.sha1).hexdigest()
        response = await rec.request(
            client,
            "POST /api/v1/integrations/timepad/webhook",
            "POST",
            "/api/v1/integrations/timepad/webhook",
            content=body,
            headers={"content-type": "application/json", "x-hub-signature": f"sha1={signature}"},
        )
        if response is not None and response.status_code == 202:
            accepted.add(order_id)

    interval = 1.0 / timepad["per_second"]
    next_at = time.monotonic()
    order_id = timepad["first_order_id"]
    while next_at < stop:
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        next_at += interval
        if sent and rng.random() < timepad["replay_share"]:
            target = rng.choice(sent)
        else:
            target, order_id = order_id, order_id + 1
            sent.append(target)
        task = asyncio.create_task(one(target))  # open loop: a slow answer delays nothing
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    return sorted(accepted)


async def _survey(
    client: httpx.AsyncClient, rec: Recorder, survey: dict[str, Any], stop: float
) -> int:
    """Attendees of the last event answer its express survey, a few at a time."""
    await asyncio.sleep(survey["at_seconds"])
    tokens = list(survey["tokens"])
    answered = 0

    async def respondent() -> None:
        nonlocal answered
        while tokens and time.monotonic() < stop:
            n = len(tokens)
            token = tokens.pop()
            answers = {
                "liked": 1 + (n * 7) % 5,
                "nps": (n * 3) % 11,
                "most_useful": "The case discussion at our table",
                "change": "More time" if n % 3 else "",
            }
            response = await rec.request(
                client,
                "POST /api/v1/surveys/{id}/responses",
                "POST",
                f"/api/v1/surveys/{survey['survey_id']}/responses",
                headers=_auth(token),
                json={"answers": answers},
            )
            if response is not None and response.status_code == 201:
                answered += 1
            await asyncio.sleep(survey["pause_seconds"])

    await asyncio.gather(*(respondent() for _ in range(survey["concurrency"])))
    return answered


async def run_mix(plan: dict[str, Any]) -> dict[str, Any]:
    rec = Recorder()
    rng = random.Random(plan.get("seed", 1))
    base_url = plan["base_url"]
    started = time.monotonic()
    stop = started + plan["duration_seconds"]
    connections = plan["connections"]
    async with (
        _client(base_url, connections) as browsers,
        _client(base_url, plan["door"]["scanners"] + plan["survey"]["concurrency"]) as staff,
        _client(base_url, plan["timepad"]["max_in_flight"]) as timepad,
    ):
        results = await asyncio.gather(
            *(
                _browse(browsers, rec, plan, random.Random(rng.random()), stop)
                for _ in range(connections)
            ),
            _race(base_url, rec, plan["race"]),
            _door(staff, rec, plan["door"], stop),
            _timepad(timepad, rec, plan["timepad"], rng, stop),
            _survey(staff, rec, plan["survey"], stop),
        )
    elapsed = time.monotonic() - started
    race, checked_in, accepted, answered = results[connections:]
    return {
        "seconds": elapsed,
        "routes": rec.summary(),
        "samples": rec.samples,
        "race": race,
        "checked_in": checked_in,
        "timepad_accepted": accepted,
        "answered": answered,
    }


async def run_single(plan: dict[str, Any]) -> dict[str, Any]:
    rec = Recorder()
    started = time.monotonic()
    stop = started + plan["duration_seconds"]
    headers = _auth(plan["token"])

    async def loop(client: httpx.AsyncClient) -> None:
        while time.monotonic() < stop:
            await rec.request(client, plan["route"], "GET", plan["url"], headers=headers)

    async with _client(plan["base_url"], plan["connections"]) as client:
        await asyncio.gather(*(loop(client) for _ in range(plan["connections"])))
    return {"seconds": time.monotonic() - started, "routes": rec.summary(), "samples": rec.samples}


async def run_race(plan: dict[str, Any]) -> dict[str, Any]:
    """The registration race alone, on an otherwise idle server."""
    rec = Recorder()
    started = time.monotonic()
    race = await _race(plan["base_url"], rec, plan["race"])
    return {
        "seconds": time.monotonic() - started,
        "routes": rec.summary(),
        "samples": rec.samples,
        "race": race,
    }


RUNNERS = {"mix": run_mix, "race": run_race, "single": run_single}


def main(argv: list[str]) -> int:
    plan_path, result_path = argv
    with open(plan_path) as source:
        plan = json.load(source)
    runner = RUNNERS[plan["mode"]]
    result = asyncio.run(runner(plan))
    with open(result_path, "w") as target:
        json.dump(result, target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
