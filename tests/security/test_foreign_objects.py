"""Object-level authorization (checklist A1): someone else's object is exactly as unknown as
an object that does not exist.

A world of objects private to their owners (a draft event, a draft survey, a draft case, a
registration, an API token, an application, a review) is built; then every operation whose
path names one of them, taken from the app's own routes, is called by every role that is not
the owner nor an admin, once with the real foreign id and once with an id that names nothing,
with the operation's documented example as the body. Both answers must be the same refusal:
the foreign object is neither returned nor changed nor revealed to exist.
"""

import pytest
from sqlalchemy import func, select
from sqlmodel import SQLModel

from tests.applications.helpers import SCORES_HIGH, review_body, submitted
from tests.events.helpers import create_event, open_event, register
from tests.paths import fill
from tests.security.openapi import json_body_schema, operations

PRIVATE = {
    "event_id",
    "survey_id",
    "case_id",
    "registration_id",
    "token_id",
    "application_id",
    "review_id",
}
TARGETS = [
    (method, path, json_body_schema(op))
    for method, path, op in operations()
    if PRIVATE & set(part.strip("{}") for part in path.split("/") if part[:1] == "{")
]
ROLES = ["applicant", "member", "reviewer", "facilitator"]
# Facilitators are the door staff of every event: they read and check in any registration
# (the route x role matrix gives them the registration lists too). Not foreign to them.
STAFF_READS = {"facilitator": {"registration_id"}}


async def _world(client, factory) -> dict[str, str]:
    admin = await factory.member("admin")
    owner = await factory.member("member")
    draft_event = await create_event(client, admin)
    survey = await client.post(
        "/api/v1/surveys",
        headers=admin.headers,
        json={"title": "Draft", "questions": [{"key": "ok", "type": "yes_no", "text": "OK?"}]},
    )
    event = await open_event(client, admin)
    registration = await register(client, owner, event["id"])
    case = await client.post(
        "/api/v1/cases",
        headers=owner.headers,
        json={
            "event_id": event["id"],
            "title": "Mine",
            "context": "Private draft.",
            "question": "Q?",
            "good_outcome": "A.",
        },
    )
    token = await client.post(
        "/api/v1/me/tokens", headers=owner.headers, json={"name": "script", "scopes": ["read"]}
    )
    _applicant, application, council = await submitted(client, factory)
    review = await client.post(
        f"/api/v1/applications/{application['id']}/reviews",
        headers=council[0].headers,
        json=review_body(SCORES_HIGH),
    )
    for response in (survey, case, token, review):
        assert response.status_code == 201, response.text
    return {
        "event_id": draft_event["id"],
        "survey_id": survey.json()["id"],
        "case_id": case.json()["id"],
        "registration_id": registration["id"],
        "token_id": token.json()["id"],
        "application_id": application["id"],
        "review_id": review.json()["id"],
    }


def _answer(response) -> tuple[int, dict]:
    """Status and problem body, less the echo of the caller's own URL and the request id."""
    body = {k: v for k, v in response.json().items() if k not in ("instance", "request_id")}
    return response.status_code, body


async def _row_counts(db) -> dict[str, int]:
    return {
        name: await db.scalar(select(func.count()).select_from(table))
        for name, table in SQLModel.metadata.tables.items()
    }


def test_the_sweep_covers_every_kind_of_private_object():
    named = {part.strip("{}") for _, path, _ in TARGETS for part in path.split("/")}
    assert PRIVATE <= named and len(TARGETS) >= 50


@pytest.mark.parametrize("role", ROLES)
async def test_foreign_objects_are_as_unknown_as_missing_ones(client, factory, db, role):
    foreign = await _world(client, factory)
    caller = await factory.member(role)  # a stranger to every object above
    before = await _row_counts(db)
    returned, cells = [], 0
    for method, path, schema in TARGETS:
        if any(f"{{{name}}}" in path for name in STAFF_READS.get(role, ())):
            continue
        body = schema["examples"][0] if schema else None
        real = await client.request(
            method, fill(path, **foreign), headers=caller.headers, json=body
        )
        missing = await client.request(method, fill(path), headers=caller.headers, json=body)
        cells += 1
        if real.status_code < 400 or _answer(real) != _answer(missing):
            returned.append((method, path, real.status_code, missing.status_code))
    assert returned == [], returned  # the figure: foreign objects returned, target 0
    assert cells >= len(TARGETS) - 6
    db.expire_all()
    assert await _row_counts(db) == before
