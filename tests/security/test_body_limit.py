"""The body limit (checklist V3): 16 MiB sent to every route that takes a body, with a
Content-Length and chunked, without a token: 413 before authentication, with the server
reading no more than the limit plus one chunk."""

import tracemalloc

import pytest

from tests.paths import fill
from tests.security.openapi import WRITE_METHODS, operations

SIXTEEN_MIB = 16 * 1024 * 1024
CHUNK = 64 * 1024
BLOB = b"x" * SIXTEEN_MIB
WRITES = [(method, path) for method, path, _ in operations() if method.lower() in WRITE_METHODS]


class Stream:
    """A chunked 16 MiB body that counts how much of it the server pulled."""

    def __init__(self) -> None:
        self.sent = 0

    async def __aiter__(self):
        for _ in range(SIXTEEN_MIB // CHUNK):
            self.sent += CHUNK
            yield BLOB[:CHUNK]


def test_the_sweep_covers_the_protected_writes():
    assert len(WRITES) > 60


async def test_sixteen_mib_with_content_length_is_413_before_401(client):
    statuses = {}
    for method, path in WRITES:
        response = await client.request(
            method, fill(path), content=BLOB, headers={"content-type": "application/json"}
        )
        statuses[(method, path)] = response.status_code
        assert response.json()["type"] == "/problems/payload-too-large"
    assert set(statuses.values()) == {413}, {k: v for k, v in statuses.items() if v != 413}


async def test_sixteen_mib_chunked_is_413_before_401_and_stops_reading(client, app):
    settings = app.state.settings
    # The CSV import has a limit of its own (10 MiB); every other route the general 1 MiB.
    own = {"/api/v1/applications/import": settings.application_import_max_bytes}
    most_read = 0
    for method, path in WRITES:
        stream = Stream()
        response = await client.request(
            method, fill(path), content=stream, headers={"content-type": "application/json"}
        )
        assert response.status_code == 413, (method, path, response.status_code)
        assert response.headers["connection"] == "close"
        # The server stops pulling once the route's limit is passed: it plus one chunk.
        assert stream.sent <= own.get(path, settings.max_body_bytes) + CHUNK, (method, path)
        if path not in own:
            most_read = max(most_read, stream.sent)
    assert most_read <= settings.max_body_bytes + CHUNK


async def test_memory_held_for_a_refused_body_is_bounded(client, app):
    """The RSS-growth figure, measured as Python allocations (deterministic, unlike RSS): a
    refused chunked 16 MiB body costs about the 1 MiB buffer, never the body."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        response = await client.post(
            "/api/v1/me/tokens", content=Stream(), headers={"content-type": "application/json"}
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 413
    assert peak - before < 4 * app.state.settings.max_body_bytes  # far under the 16 MiB sent


@pytest.mark.parametrize(
    "path", ["/api/v1/integrations/timepad/webhook", "/api/v1/integrations/bitrix24/events"]
)
async def test_partner_webhooks_too(client, path):
    """Partners' webhooks are public: the limit is all that stands before the signature."""
    response = await client.post(
        path, content=Stream(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
