"""The served contract, read once: the sweeps enumerate routes from it, so a new route is
swept without anyone remembering to add it."""

from functools import cache
from typing import Any

from app.main import create_app
from tests.conftest import make_settings

WRITE_METHODS = {"post", "put", "patch", "delete"}
# Partners' own formats (Timepad, Bitrix24) and the CSV upload: not our JSON models.
FOREIGN_BODIES = {"timepad_webhook", "bitrix24_events", "applications_import"}


@cache
def document() -> dict[str, Any]:
    """A fresh app's document: whatever router a route was added to, it is here."""
    return create_app(make_settings()).openapi()


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in sorted(document()["paths"].items())
        for method, operation in item.items()
    ]


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def json_body_schema(operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content or operation["operationId"] in FOREIGN_BODIES:
        return None
    return resolve(content["application/json"]["schema"])
