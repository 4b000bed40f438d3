"""The committed contract: no drift, valid OpenAPI, and the conventions it must show."""

import json
from pathlib import Path

from openapi_spec_validator import validate

from app.manage.openapi import render

COMMITTED = Path("openapi/openapi.json")


def _document() -> dict:
    return json.loads(render())


def test_committed_document_matches_the_app():
    assert COMMITTED.read_text() == render(), "run `make openapi` and commit the result"


def test_document_is_valid_openapi():
    validate(_document())


PARTNER_PAYLOADS = {"timepad_webhook", "bitrix24_events"}


def test_operations_follow_the_conventions():
    document = _document()
    operation_ids = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            operation_ids.append(operation["operationId"])
            assert operation.get("tags"), where
            assert operation.get("description") or operation.get("summary"), where
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], where
                    schema = response["content"]["application/problem+json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}, where
            body = operation.get("requestBody")
            if body and operation["operationId"] in PARTNER_PAYLOADS:
                # A partner's own format (Timepad, Bitrix24): documented by example only.
                assert all(c.get("example") for c in body["content"].values()), where
            elif body and "application/json" not in body["content"]:
                # A file upload (CSV import): a plain string body, shown by example.
                assert all(c.get("example") for c in body["content"].values()), where
            elif body:
                schema_ref = body["content"]["application/json"]["schema"]["$ref"]
                schema = document["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
                assert schema.get("examples"), f"{where}: request body without an example"
                assert schema.get("additionalProperties") is False, where
            if method == "post" and "201" in operation["responses"]:
                names = [p["name"] for p in operation.get("parameters", [])]
                assert "Idempotency-Key" in names, where
            if operation.get("security"):
                assert "401" in operation["responses"], where
    assert len(operation_ids) == len(set(operation_ids))
    assert "members_list" in operation_ids and "auth_login" in operation_ids


def test_security_schemes():
    schemes = _document()["components"]["securitySchemes"]
    assert schemes["AccessToken"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schemes["AccessToken"]["description"],
    }
    assert schemes["ApiToken"]["bearerFormat"] == "dl_pat"


def test_every_operation_tag_is_declared():
    """Generated clients group operations by tag; an undeclared tag has no description."""
    document = _document()
    declared = {tag["name"] for tag in document["tags"]}
    used = {
        tag
        for item in document["paths"].values()
        for operation in item.values()
        for tag in operation.get("tags", [])
    }
    assert used <= declared, f"declare these tags in app/core/openapi.py: {used - declared}"
