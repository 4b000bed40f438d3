"""Every route of the app, called as every role: the status each must get.

A route added without an entry here fails ``test_every_route_has_an_entry``. Calls carry no
body, so a role that passes authorization meets validation (422) on routes that need one.
"""

import uuid

import pytest

from app.main import create_app
from tests.conftest import make_settings

ROLES = ["anonymous", "applicant", "member", "reviewer", "facilitator", "admin"]
PUBLIC = {
    ("GET", "/healthz"), ("GET", "/readyz"),
    ("POST", "/api/v1/auth/signup"), ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"), ("POST", "/api/v1/auth/logout"),
}


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


def signed_in(status: int) -> dict[str, int]:
    return {"anonymous": 401, **dict.fromkeys(ROLES[1:], status)}


def admin_only(status: int) -> dict[str, int]:
    return {"anonymous": 401, **dict.fromkeys(ROLES[1:-1], 403), "admin": status}


# (method, path) -> role -> status. {other} is another member, {self} the caller.
MATRIX: dict[tuple[str, str], dict[str, int]] = {
    ("GET", "/healthz"): everyone(200),
    ("GET", "/readyz"): everyone(200),
    ("POST", "/api/v1/auth/signup"): everyone(422),
    ("POST", "/api/v1/auth/login"): everyone(422),
    ("POST", "/api/v1/auth/refresh"): everyone(422),
    ("POST", "/api/v1/auth/logout"): everyone(422),
    ("POST", "/api/v1/auth/logout-all"): signed_in(204),
    ("POST", "/api/v1/auth/password"): signed_in(422),
    ("GET", "/api/v1/me"): signed_in(200),
    ("PATCH", "/api/v1/me"): signed_in(422),
    ("DELETE", "/api/v1/me"): {**signed_in(204), "admin": 403},
    ("GET", "/api/v1/me/consents"): signed_in(200),
    ("GET", "/api/v1/me/export"): signed_in(200),
    ("GET", "/api/v1/me/tokens"): signed_in(200),
    ("POST", "/api/v1/me/tokens"): signed_in(422),
    ("DELETE", "/api/v1/me/tokens/{token_id}"): signed_in(404),
    ("GET", "/api/v1/members"): signed_in(200),
    # Applicants see nobody but themselves: another member is "not found" to them.
    ("GET", "/api/v1/members/{member_id}"): {**signed_in(200), "applicant": 404},
    ("PATCH", "/api/v1/members/{member_id}"): admin_only(422),
    ("PUT", "/api/v1/members/{member_id}/roles"): admin_only(422),
    ("GET", "/api/v1/audit"): admin_only(200),
    # The test app has no Bitrix24 portal configured: admins get 409 for asking a sync.
    ("POST", "/api/v1/integrations/bitrix24/sync"): admin_only(409),
    ("GET", "/api/v1/integrations/bitrix24/sync/{run_id}"): admin_only(404),
    ("POST", "/api/v1/integrations/bitrix24/reconciliation"): admin_only(409),
    ("GET", "/api/v1/integrations/bitrix24/reconciliation"): admin_only(404),
}


def _operations() -> dict[tuple[str, str], dict]:
    """Every operation the app serves, from its own OpenAPI document (a fresh app, so a route
    added anywhere shows up)."""
    document = create_app(make_settings()).openapi()
    return {(method.upper(), path): operation
            for path, item in document["paths"].items() for method, operation in item.items()}


def test_every_route_has_an_entry():
    assert set(_operations()) == set(MATRIX), "add the new route to MATRIX with its statuses"


def test_public_routes_are_exactly_these():
    """Operations without a security requirement: everything else is authenticated."""
    public = {key for key, operation in _operations().items() if not operation.get("security")}
    assert public == PUBLIC


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method,path", sorted(MATRIX))
async def test_status_per_role(client, factory, method, path, role):
    other = await factory.member("member", company="Canary Corp")
    headers = {}
    if role != "anonymous":
        actor = await factory.member(role)
        headers = actor.headers
    url = path.format(member_id=other.id, token_id=uuid.uuid4(), run_id=uuid.uuid4())
    response = await client.request(method, url, headers=headers)
    expected = MATRIX[(method, path)][role]
    assert response.status_code == expected, (method, path, role, response.text[:300])
