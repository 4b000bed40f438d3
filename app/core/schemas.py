"""Base classes for API shapes: strict inputs, and reads that render UTC times with ``Z``."""

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
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


# Characters no text of ours takes: control characters but tab and line breaks (NUL, which
# PostgreSQL refuses, among them), the bidirectional embeddings, overrides, isolates and marks
# (which turn "nimdA ytinummoC" into "Community Admin" on screen), and the invisible marks
# (zero-width space, word joiner, byte-order mark) that hide in a name. The zero-width
# (non-)joiners stay: scripts and emoji need them.
REFUSED_CHARACTERS = (
    "\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f"
    "\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff"
)
_REFUSED = re.compile(f"[{REFUSED_CHARACTERS}]")


def without_refused(value: str) -> str:
    """Text from a partner (who does not ask our rules) with the refused characters taken out:
    kept, but never shown reversed or with hidden marks."""
    return _REFUSED.sub("", value)


def refused_character(value: str) -> str | None:
    """The first character of ``value`` no text of ours takes, if any."""
    found = _REFUSED.search(value)
    return found.group() if found else None


def _check_text(value: str) -> None:
    found = _REFUSED.search(value)
    if found is not None:
        raise ValueError(
            f"must not contain control or bidirectional formatting characters "
            f"(found U+{ord(found.group()):04X})"
        )


class InputSchema(BaseModel):
    """Request bodies: unknown fields are a 422, never silently ignored; no control or
    bidirectional formatting characters in strings."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _plain_text(cls, value: Any) -> Any:
        # Caught as a validation error, not a 500 (PostgreSQL refuses NUL in text) nor a name
        # that shows up reversed in the directory.
        if isinstance(value, str):
            _check_text(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, str):
                    _check_text(item)
        return value

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # Say in the contract what _no_nul enforces, so generated clients and fuzzers agree.
        schema = handler.resolve_ref_schema(handler(core_schema))
        for prop in schema.get("properties", {}).values():
            forbid_refused(prop)
        return schema


NO_NUL_PATTERN = f"^[^{REFUSED_CHARACTERS}]*$"
# Text that is stripped and must not end up empty: a non-space character, and nothing refused.
NON_BLANK_PATTERN = f"^[^{REFUSED_CHARACTERS}]*[^{REFUSED_CHARACTERS}\\s][^{REFUSED_CHARACTERS}]*$"

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


def forbid_refused(schema: dict[str, Any]) -> None:
    """Say in a string schema that the refused characters are refused (a pattern)."""
    if schema.get("type") == "string" and "pattern" not in schema and "format" not in schema:
        schema["pattern"] = NO_NUL_PATTERN
    for alternative in schema.get("anyOf", []):
        forbid_refused(alternative)
    if isinstance(schema.get("items"), dict):
        forbid_refused(schema["items"])


class ReadSchema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# One spelling per id: the hyphenated 8-4-4-4-12 form (hex digits in either case). Python's
# UUID parser also takes ``{...}``, ``urn:uuid:...`` and 32 bare digits, so without this the
# same resource answers under several URLs (each its own cache entry, audit target text and
# rate-limit key) and an id that is not of our spelling is not refused.
_CANONICAL_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


def _canonical_uuid(value: Any) -> Any:
    if isinstance(value, str) and not _CANONICAL_UUID.fullmatch(value):
        raise ValueError("must be a UUID written as 8-4-4-4-12 hex digits")
    return value


# A UUID in a path or query parameter; its schema stays ``format: uuid``.
StrictUUID = Annotated[uuid.UUID, BeforeValidator(_canonical_uuid)]
