"""Base classes for API shapes: strict inputs, and reads that render UTC times with ``Z``."""

from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    PlainSerializer,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema


def _iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


UTCTimestamp = Annotated[datetime, PlainSerializer(_iso_utc, return_type=str, when_used="json")]


class InputSchema(BaseModel):
    """Request bodies: unknown fields are a 422, never silently ignored; no NUL in strings."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL refuses NUL in text; catch it as a validation error, not a 500.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        if isinstance(value, list) and any(isinstance(v, str) and "\x00" in v for v in value):
            raise ValueError("must not contain NUL characters")
        return value

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # Say in the contract what _no_nul enforces, so generated clients and fuzzers agree.
        schema = handler.resolve_ref_schema(handler(core_schema))
        for prop in schema.get("properties", {}).values():
            _forbid_nul(prop)
        return schema


NO_NUL_PATTERN = "^[^\\u0000]*$"
# Text that is stripped and must not end up empty: a non-space character, and no NUL.
NON_BLANK_PATTERN = "^[^\\u0000]*\\S[^\\u0000]*$"

T = TypeVar("T")


def _refuse_null(value: Any) -> Any:
    if value is None:
        raise ValueError("may be left out, but not set to null: it cannot be removed")
    return value


def _drop_null(schema: dict[str, Any]) -> None:
    branches = [b for b in schema.pop("anyOf", []) if b != {"type": "null"}]
    if len(branches) == 1:
        schema.update(branches[0])
    elif branches:
        schema["anyOf"] = branches
    if "default" in schema and schema["default"] is None:
        del schema["default"]


# A PATCH field that may be left out but not cleared (a title, a start time): explicit null is
# a validation error, and the contract shows no null for it.
Keep = Annotated[T | None, AfterValidator(_refuse_null), Field(json_schema_extra=_drop_null)]


def _forbid_nul(schema: dict[str, Any]) -> None:
    if schema.get("type") == "string" and "pattern" not in schema and "format" not in schema:
        schema["pattern"] = NO_NUL_PATTERN
    for alternative in schema.get("anyOf", []):
        _forbid_nul(alternative)
    if isinstance(schema.get("items"), dict):
        _forbid_nul(schema["items"])


class ReadSchema(BaseModel):
    model_config = ConfigDict(from_attributes=True)
