"""Inventory, configuration and page size (checklist V2, V6), swept over every route the app
serves: the routes come from the app itself, so a new one cannot slip past."""

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from app.main import create_app
from tests.conftest import TEST_SECRET, make_settings, production_settings
from tests.paths import fill
from tests.security.openapi import document, operations

ALLOWED_ORIGIN = "https://app.digital-leaders.test"  # make_settings' CORS allowlist
FOREIGN_ORIGIN = "https://evil.example"
DOCUMENTATION_ROUTES = {"/openapi.json", "/docs", "/docs/oauth2-redirect"}
ALL_STAFF = ("member", "reviewer", "facilitator", "admin")


def test_every_served_route_is_in_the_document():
    """No hidden route: what the app routes is what the contract (and so the authorization
    matrix, the sweeps below and the committed openapi/) lists."""
    app = create_app(make_settings())
    served = {
        (method, context.path)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute) and context.path not in DOCUMENTATION_ROUTES
        for method in (context.methods or set()) - {"HEAD"}
    }
    documented = {(method, path) for method, path, _ in operations()}
    assert len(served) > 100 and served == documented


PAGED = [
    (path, op)
    for method, path, op in operations()
    if method == "GET" and any(p["name"] == "limit" for p in op.get("parameters", []))
]


def test_the_paged_routes_are_found():
    assert len(PAGED) >= 12, [path for path, _ in PAGED]


@pytest.mark.parametrize("path", [path for path, _ in PAGED])
async def test_page_size_out_of_range_is_422_on_every_list(client, factory, path):
    """V2: limit 0, -1, 101 and 10^9 are refused, whoever asks (a caller holding every role,
    so no role check answers first)."""
    actor = await factory.member(*ALL_STAFF)
    url = fill(path)
    for limit in ("0", "-1", "101", str(10**9)):
        response = await client.get(url, headers=actor.headers, params={"limit": limit})
        assert response.status_code == 422, (path, limit, response.text[:200])
        assert ["query", "limit"] in [e["loc"] for e in response.json()["errors"]], path
    schema = next(p for p in dict(PAGED)[path]["parameters"] if p["name"] == "limit")["schema"]
    assert schema["maximum"] == 100 and schema["minimum"] == 1, path


async def test_the_largest_page_is_a_hundred(client, factory):
    """V2 figure: 120 members, the most one request returns is 100."""
    viewer = await factory.member("admin")
    for _ in range(120):
        await factory.member("member")
    full = await client.get("/api/v1/members", headers=viewer.headers, params={"limit": 100})
    assert len(full.json()["items"]) == 100 and full.json()["next_cursor"]
    default = await client.get("/api/v1/members", headers=viewer.headers)
    assert len(default.json()["items"]) == 50


PATHS = sorted(document()["paths"])


async def test_cors_preflight_from_a_foreign_origin_gets_no_grant(client):
    """V6: on every path and every method it serves, a preflight from an origin outside the
    allowlist gets no Access-Control-Allow-Origin; the allowed origin gets it."""
    granted_to_foreign = []
    for path in PATHS:
        url = fill(path)
        for method in document()["paths"][path]:
            headers = {
                "Access-Control-Request-Method": method.upper(),
                "Access-Control-Request-Headers": "Authorization, Content-Type",
            }
            foreign = await client.options(url, headers={**headers, "Origin": FOREIGN_ORIGIN})
            if "access-control-allow-origin" in foreign.headers:
                granted_to_foreign.append((method, path))
            # Refused as a problem like every other error (the client fixture checks the body).
            assert foreign.status_code == 400, (path, foreign.status_code)
            assert foreign.headers.get("access-control-allow-credentials") is None
            allowed = await client.options(url, headers={**headers, "Origin": ALLOWED_ORIGIN})
            assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN, path
    assert granted_to_foreign == []
    # A plain cross-origin request (no preflight) gets no grant either.
    simple = await client.get("/api/v1/public/events", headers={"Origin": FOREIGN_ORIGIN})
    assert simple.status_code == 200 and "access-control-allow-origin" not in simple.headers


async def _get(app, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path)


@pytest.mark.parametrize(
    "overrides,served",
    [
        ({"environment": "production"}, False),
        ({"environment": "production", "docs_enabled": True}, True),  # an explicit choice
        ({"environment": "development"}, True),
    ],
)
async def test_docs_are_closed_in_production(overrides, served):
    """V6: production serves neither the docs nor the document unless told to."""
    settings = production_settings if overrides["environment"] == "production" else make_settings
    app = create_app(settings(jwt_secret=TEST_SECRET, **overrides))
    try:
        for path in ("/docs", "/openapi.json", "/redoc", "/docs/oauth2-redirect"):
            response = await _get(app, path)
            if served and path in DOCUMENTATION_ROUTES:
                assert response.status_code == 200, path
            else:
                assert response.status_code == 404, (path, response.status_code)
                assert "swagger" not in response.text.lower()
    finally:
        await app.state.engine.dispose()


async def test_production_mounts_no_benchmark_routes():
    app = create_app(production_settings())
    try:
        assert not any("bench" in getattr(route, "path", "") for route in app.routes)
    finally:
        await app.state.engine.dispose()
