"""The OpenAPI document as the contract: problem+json on every error, Idempotency-Key on
creating POSTs, both security schemes, stable operation ids."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.core import idempotency
from app.core.errors import (
    GENERIC_PROBLEMS,
    PROBLEM_BASE,
    PROBLEM_MEDIA_TYPE,
    AppError,
    Problem,
)
from app.core.routes import IDEMPOTENT_STATUSES
from app.core.schemas import forbid_refused

DESCRIPTION = """
The API of Digital Leaders, a vetted peer community of IT and digital managers.

**Authentication.** `POST /api/v1/auth/login` returns a short-lived access token (JWT) and an
opaque refresh token; send `Authorization: Bearer <access token>`. Scripts use personal API
tokens (`dl_pat_...`, `POST /api/v1/me/tokens`) the same way, limited by their scopes.

**Errors** are RFC 9457 `application/problem+json` documents. `type` is stable per error kind:
{problem_types}

**Lists** take `limit` (1-100, default 50) and an opaque `cursor`, and return
`{{"items": [...], "next_cursor": ...}}`.

**Writes** refuse unknown fields (422). Single resources carry an `ETag`; send it back in
`If-Match` to avoid lost updates (412 when stale). POSTs that create (201) or accept work
(202) take `Idempotency-Key`.
"""

API_TOKEN_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "dl_pat",
    "description": "Personal API token (dl_pat_...) from POST /api/v1/me/tokens.",
}

_IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes retries safe: the same key replays the first response for 24 h, "
    "to the same caller while still signed in (else 401); 409 while the first is in flight "
    "or when the first answer held a secret (not kept), 422 with another body.",
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": idempotency.MAX_KEY_LENGTH,
        "pattern": idempotency.KEY_PATTERN_TEXT,
    },
}


def _error_classes(cls: type[AppError]) -> list[type[AppError]]:
    found = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_error_classes(sub))
    return found


def problem_catalogue() -> dict[str, str]:
    """Every problem type the API can emit, slug -> title."""
    kinds = dict(GENERIC_PROBLEMS.values())
    kinds.update(idempotency.PROBLEM_KINDS)
    kinds.update((cls.slug, cls.title) for cls in _error_classes(AppError))
    return dict(sorted(kinds.items()))


def build_openapi(app: FastAPI) -> dict[str, Any]:
    problem_types = "\n".join(
        f"- `{PROBLEM_BASE}{slug}`: {title}" for slug, title in problem_catalogue().items()
    )
    document = get_openapi(
        title="Digital Leaders API",
        version=app.version,
        description=DESCRIPTION.format(problem_types=problem_types),
        routes=app.routes,
        tags=TAGS,
        servers=[{"url": "/", "description": "This deployment"}],
        contact={"name": "Digital Leaders platform team"},
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(
        Problem.model_json_schema(ref_template="#/components/schemas/{model}").pop("$defs", {})
    )
    schemas["Problem"] = {
        k: v
        for k, v in Problem.model_json_schema(ref_template="#/components/schemas/{model}").items()
        if k != "$defs"
    }
    problem_content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    document["components"].setdefault("securitySchemes", {})["ApiToken"] = API_TOKEN_SCHEME
    for path_item in document.get("paths", {}).values():
        for method, operation in path_item.items():
            responses = operation.get("responses", {})
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and isinstance(parameter.get("schema"), dict):
                    # What core.query enforces, said in the contract (as for bodies).
                    forbid_refused(parameter["schema"])
            if {"AccessToken": []} in operation.get("security", []):
                # A personal API token works wherever an access token does.
                operation["security"].append({"ApiToken": []})
            if method == "post" and not IDEMPOTENT_STATUSES.isdisjoint(responses):
                operation.setdefault("parameters", []).append(_IDEMPOTENCY_PARAMETER)
                responses.setdefault("409", {"description": "Conflict"})
                responses.setdefault("400", {"description": GENERIC_PROBLEMS[400][1]})
            if "requestBody" in operation:
                # A body that is not UTF-8 JSON at all is refused before validation.
                responses.setdefault("400", {"description": GENERIC_PROBLEMS[400][1]})
            if "422" in responses:
                responses["422"]["description"] = GENERIC_PROBLEMS[422][1]
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = problem_content
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


TAGS = [
    {"name": "auth", "description": "Sign-up, login, token refresh and revocation."},
    {"name": "me", "description": "My profile, privacy settings, API tokens and data."},
    {"name": "members", "description": "The member directory, with privacy applied."},
    {"name": "audit", "description": "The audit log (admins)."},
    {
        "name": "applications",
        "description": "Applications to join: drafting, submission, decisions, import, the funnel.",
    },
    {
        "name": "reviews",
        "description": "The expert council: queue, blind reading, reviews, "
        "rubric, reviewer statistics.",
    },
    {
        "name": "events",
        "description": "The programme: events, their status and seats; public events for anyone.",
    },
    {
        "name": "registrations",
        "description": "Registering, the second confirmation, the "
        "waiting list, check-in, attendance.",
    },
    {
        "name": "seating",
        "description": "Seating an event's attendees at tables: the "
        "solver's draft, moves and pins under the hard rules, publishing; my table.",
    },
    {
        "name": "cases",
        "description": "Cases brought to the board, their lifecycle and "
        "visibility, the recommendations they receive and their outcomes.",
    },
    {
        "name": "companies",
        "description": "Company identity: the aliases admins keep for names no rule can tell "
        "are one company (legal forms, quotes and Cyrillic or Latin spelling need none).",
    },
    {
        "name": "surveys",
        "description": "Surveys after events and for the community: "
        "questions as data, anonymous or named answers, results with k-anonymous breakdowns "
        "by table and facilitator, exports.",
    },
    {
        "name": "webhooks",
        "description": "Webhook subscriptions, the event catalogue, the "
        "delivery log and redelivery (admins).",
    },
    {
        "name": "integrations",
        "description": "Timepad and Bitrix24: inbound events, sync runs and reconciliation.",
    },
    {"name": "admin", "description": "Operating the service: the scheduled jobs (admins)."},
    {"name": "health", "description": "Liveness and readiness probes."},
]


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
