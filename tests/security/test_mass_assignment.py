"""No mass assignment (checklist A3): every request body forbids fields it does not declare,
proven from the contract (every object schema a body can reach says additionalProperties:
false) and by sending each body's own example with privileged fields added."""

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import SQLModel

from tests.paths import fill
from tests.security.openapi import json_body_schema, operations, resolve

BODIES = [
    (method, path, schema)
    for method, path, operation in operations()
    if (schema := json_body_schema(operation)) is not None
]

# What a caller might slip in to raise themselves or reach someone else's data.
PRIVILEGED: dict[str, Any] = {
    "role": "admin",
    "roles": ["admin"],
    "is_admin": True,
    "status": "approved",
    "member_id": str(uuid.uuid4()),
    "author_id": str(uuid.uuid4()),
    "id": str(uuid.uuid4()),
    "token_version": 0,
    "version": 99,
    "created_at": "2020-01-01T00:00:00Z",
    "email_verified": True,
    "scopes": ["admin"],
    "reviewer_id": str(uuid.uuid4()),
    "consents": {"member_id": str(uuid.uuid4()), "company": "public"},
    "company_visibility": "public",
    "job_title_visibility": "public",
}
NESTED_EXTRA = {"is_admin": True, "member_id": str(uuid.uuid4())}


def _object_schemas(schema: dict[str, Any], seen: set[int]) -> list[dict[str, Any]]:
    """Every object schema with declared properties reachable from ``schema``."""
    schema = resolve(schema)
    if id(schema) in seen:
        return []
    seen.add(id(schema))
    found = [schema] if "properties" in schema else []
    children: list[dict[str, Any]] = [*schema.get("properties", {}).values()]
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        children.extend(schema.get(key, []))
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            children.append(schema[key])
    for child in children:
        found.extend(_object_schemas(child, seen))
    return found


def test_every_body_model_forbids_unknown_fields_all_the_way_down():
    models = {}
    for method, path, schema in BODIES:
        for found in _object_schemas(schema, set()):
            models[found.get("title", f"{method} {path}")] = found
    assert len(BODIES) >= 40 and len(models) >= len({s["title"] for _, _, s in BODIES})
    lax = sorted(
        title for title, found in models.items() if found.get("additionalProperties") is not False
    )
    assert lax == [], f"models that would silently drop unknown fields: {lax}"


def test_maps_in_bodies_are_typed_and_bounded():
    """A free-form map (answers, scores) must type its keys or values and cap its size: a map
    of anything is a place for privileged fields to hide."""
    maps = 0
    for method, path, schema in BODIES:
        for found in _object_schemas(schema, set()):
            for name, prop in found["properties"].items():
                for option in [resolve(prop), *map(resolve, resolve(prop).get("anyOf", []))]:
                    if option.get("type") != "object" or "properties" in option:
                        continue
                    maps += 1
                    extra = option.get("additionalProperties")
                    assert option.get("patternProperties") or extra not in (None, True, {}), (
                        method,
                        path,
                        name,
                    )
                    assert option.get("maxProperties"), (method, path, name)
    assert maps >= 4


def _with_extras(example: dict[str, Any], schema: dict[str, Any]) -> tuple[dict, set[str]]:
    body = dict(example)
    declared = set(schema["properties"])
    added = {name for name in PRIVILEGED if name not in declared}
    body.update({name: PRIVILEGED[name] for name in added})
    # One level down too: an object or a list of objects the example holds.
    for name, value in example.items():
        prop = resolve(schema["properties"].get(name, {}))
        if isinstance(value, dict) and "properties" in prop:
            body[name] = {**value, **NESTED_EXTRA}
            added |= {f"{name}.{k}" for k in NESTED_EXTRA}
        elif (
            isinstance(value, list)
            and value
            and isinstance(value[0], dict)
            and "properties" in resolve(prop.get("items", {}))
        ):
            body[name] = [{**value[0], **NESTED_EXTRA}, *value[1:]]
            added |= {f"{name}.0.{k}" for k in NESTED_EXTRA}
    return body, added


async def _row_counts(db) -> dict[str, int]:
    return {
        name: await db.scalar(select(func.count()).select_from(table))
        for name, table in SQLModel.metadata.tables.items()
    }


async def test_privileged_fields_are_refused_everywhere_and_change_nothing(client, factory, db):
    """Each write's documented example, plus role/status/member_id/is_admin/someone's consent
    at the top and one level down, sent by a caller holding every role: 422 naming exactly
    the added fields, and not one row changed anywhere."""
    actor = await factory.member("applicant", "member", "reviewer", "facilitator", "admin")
    before = await _row_counts(db)
    accepted = []
    for method, path, schema in BODIES:
        example = schema["examples"][0]
        body, added = _with_extras(example, schema)
        response = await client.request(method, fill(path), headers=actor.headers, json=body)
        if response.status_code != 422:
            accepted.append((method, path, response.status_code))
            continue
        errors = response.json()["errors"]
        refused = {
            ".".join(str(part) for part in e["loc"][1:])
            for e in errors
            if e["type"] == "extra_forbidden"
        }
        assert refused == added, (method, path, added - refused)
        assert all(e["type"] == "extra_forbidden" for e in errors), (method, path, errors)
    assert accepted == []
    db.expire_all()
    assert await _row_counts(db) == before


@pytest.mark.parametrize(
    "body", [{"role": "admin"}, {"roles": ["admin"]}, {"is_admin": True}, {"token_version": 0}]
)
async def test_applicant_cannot_promote_themselves(client, factory, db, body):
    """The checklist's own example: an applicant's PATCH with a role is a 422, and the
    applicant is still an applicant (their token still works: no version bump either)."""
    applicant = await factory.member("applicant")
    response = await client.patch(
        "/api/v1/me", headers=applicant.headers, json={"city": "Kazan", **body}
    )
    assert response.status_code == 422
    me = await client.get("/api/v1/me", headers=applicant.headers)
    assert me.status_code == 200
    assert me.json()["roles"] == ["applicant"] and me.json()["city"] is None
