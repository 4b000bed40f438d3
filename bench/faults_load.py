"""The load of the fault benchmark, in its own process: ``python -m bench.faults_load SPEC OUT``.

SPEC is a JSON file written by bench.faults; OUT receives every request made (start, duration,
kind, status, Retry-After present, problem+json) and the final outcome of every write. Two
modes:

- ``mix``: tasks loop until the duration ends, reading (events, an event, a member page) and
  writing (register with an Idempotency-Key, then confirm). A write is retried like a careful
  client does (same key, same body; after Retry-After on 503 and 409 in flight, shortly after a
  dropped connection) until it has a definitive answer.
- ``clients``: every member registers for one event at the same instant, each with its own
  key, retrying the same way until a definitive answer or the deadline.
"""

import asyncio
import json
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from app.core.config import Settings
from app.core.security import TokenCodec

TOKEN_MINUTES = 24 * 60
# Past the load's end, a write still waiting for a definitive answer is given this long.
WRITE_GRACE_SECONDS = 60.0
RETRY_AFTER_CAP_SECONDS = 2.0
TRANSPORT_RETRY_SECONDS = 0.3
IN_FLIGHT_TYPE = "/problems/idempotency-key-in-flight"


@dataclass
class Recorder:
    requests: list[list[Any]] = field(default_factory=list)

    async def call(
        self, client: httpx.AsyncClient, kind: str, method: str, url: str, **kwargs: Any
    ) -> httpx.Response | None:
        started = time.time()
        clock = time.perf_counter()
        try:
            response = await client.request(method, url, **kwargs)
        except httpx.HTTPError as error:
            self.requests.append(
                [started, time.perf_counter() - clock, kind, 0, False, False, type(error).__name__]
            )
            return None
        self.requests.append(
            [
                started,
                time.perf_counter() - clock,
                kind,
                response.status_code,
                "retry-after" in response.headers,
                response.headers.get("content-type", "").startswith("application/problem+json"),
                None,
            ]
        )
        return response


def _pause_after(response: httpx.Response | None) -> float | None:
    """How long to wait before trying again; None when the answer is definitive."""
    if response is None:
        return TRANSPORT_RETRY_SECONDS
    if response.status_code >= 500:
        return _retry_after(response, TRANSPORT_RETRY_SECONDS)
    if response.status_code == 409 and _problem_type(response) == IN_FLIGHT_TYPE:
        return _retry_after(response, 1.0)
    return None


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return min(float(response.headers.get("retry-after", default)), RETRY_AFTER_CAP_SECONDS)
    except ValueError:
        return default


def _problem_type(response: httpx.Response) -> str | None:
    try:
        return str(response.json().get("type"))
    except ValueError:
        return None


async def _until_definitive(
    recorder: Recorder,
    client: httpx.AsyncClient,
    kind: str,
    method: str,
    url: str,
    give_up: float,
    **kwargs: Any,
) -> tuple[httpx.Response | None, int]:
    attempts = 0
    while True:
        attempts += 1
        response = await recorder.call(client, kind, method, url, **kwargs)
        pause = _pause_after(response)
        if pause is None or time.time() + pause > give_up:
            return response, attempts
        await asyncio.sleep(pause)


def _tokens(secret: str, members: list[str]) -> dict[str, dict[str, str]]:
    codec = TokenCodec(Settings(jwt_secret=secret, access_token_minutes=TOKEN_MINUTES))
    return {
        m: {"Authorization": f"Bearer {codec.issue(uuid.UUID(m), ['member'], 0)}"} for m in members
    }


async def _mix(spec: dict[str, Any]) -> dict[str, Any]:
    recorder = Recorder()
    headers = _tokens(spec["secret"], spec["members"])
    rng = random.Random(spec.get("seed", 1))
    pairs = [(m, e) for e in spec["events"] for m in spec["members"]]
    rng.shuffle(pairs)
    queue = iter(pairs)
    outcomes: list[dict[str, Any]] = []
    ends = time.time() + spec["duration"]
    give_up = ends + WRITE_GRACE_SECONDS
    reader = headers[spec["members"][0]]

    async def write(client: httpx.AsyncClient, member: str, event: str) -> None:
        outcome: dict[str, Any] = {"member": member, "event": event}
        outcomes.append(outcome)
        key = str(uuid.uuid4())
        response, attempts = await _until_definitive(
            recorder,
            client,
            "register",
            "POST",
            f"/api/v1/events/{event}/registrations",
            give_up,
            headers=headers[member] | {"Idempotency-Key": key},
            json={"source": "faults"},
        )
        outcome["register"] = response.status_code if response is not None else 0
        outcome["register_attempts"] = attempts
        if response is None or response.status_code != 201:
            return
        outcome["id"] = response.json()["id"]
        response, _ = await _until_definitive(
            recorder,
            client,
            "confirm",
            "POST",
            f"/api/v1/registrations/{outcome['id']}/confirm",
            give_up,
            headers=headers[member],
        )
        outcome["confirm"] = response.status_code if response is not None else 0
        if response is not None and response.status_code == 200:
            outcome["status"] = response.json()["status"]

    async def task(client: httpx.AsyncClient) -> None:
        while time.time() < ends:
            if rng.random() < spec["write_share"]:
                pair = next(queue, None)
                if pair is not None:
                    await write(client, *pair)
            else:
                event = rng.choice(spec["events"])
                kind, url = rng.choice(
                    (
                        ("events", "/api/v1/events?limit=20"),
                        ("event", f"/api/v1/events/{event}"),
                        ("members", "/api/v1/members?limit=20"),
                    )
                )
                await recorder.call(client, kind, "GET", url, headers=reader)
            await asyncio.sleep(spec["pause"])

    limits = httpx.Limits(max_connections=spec["tasks"], max_keepalive_connections=spec["tasks"])
    async with httpx.AsyncClient(
        base_url=spec["base_url"], timeout=spec["timeout"], limits=limits
    ) as client:
        await asyncio.gather(*(task(client) for _ in range(spec["tasks"])))
    return {"requests": recorder.requests, "writes": outcomes}


async def _clients(spec: dict[str, Any]) -> dict[str, Any]:
    recorder = Recorder()
    headers = _tokens(spec["secret"], spec["members"])
    give_up = time.time() + spec["deadline"]
    url = f"/api/v1/events/{spec['event']}/registrations"
    start = asyncio.Event()

    async def one(client: httpx.AsyncClient, member: str) -> dict[str, Any]:
        key = str(uuid.uuid4())
        await start.wait()
        response, attempts = await _until_definitive(
            recorder,
            client,
            "register",
            "POST",
            url,
            give_up,
            headers=headers[member] | {"Idempotency-Key": key},
            json={"source": "faults"},
        )
        outcome: dict[str, Any] = {
            "member": member,
            "attempts": attempts,
            "at": time.time(),
            "status_code": response.status_code if response else 0,
        }
        if response is not None:
            outcome["replayed"] = response.headers.get("idempotent-replayed") == "true"
            body = response.json() if response.content else {}
            outcome["id"] = body.get("id")
            outcome["status"] = body.get("status")
            outcome["type"] = body.get("type")
        return outcome

    # One connection per client, as 200 people on their own devices would have.
    limits = httpx.Limits(max_connections=len(spec["members"]))
    async with httpx.AsyncClient(
        base_url=spec["base_url"], timeout=spec["timeout"], limits=limits
    ) as client:
        tasks = [asyncio.create_task(one(client, m)) for m in spec["members"]]
        await asyncio.to_thread(Path(spec["ready_file"]).write_text, "ready")
        start.set()
        outcomes = await asyncio.gather(*tasks)
    return {"requests": recorder.requests, "clients": outcomes}


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    run = _mix if spec["mode"] == "mix" else _clients
    result = asyncio.run(run(spec))
    Path(sys.argv[2]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
