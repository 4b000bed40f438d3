"""Base classes for API shapes: strict inputs, and reads that render UTC times with ``Z``."""

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer, field_validator


def _iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


UTCTimestamp = Annotated[datetime, PlainSerializer(_iso_utc, return_type=str, when_used="json")]


class InputSchema(BaseModel):
    """Request bodies: unknown fields are a 422, never silently ignored; no NUL in strings."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL refuses NUL in text; catch it as a validation error, not a 500.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        if isinstance(value, list) and any(isinstance(v, str) and "\x00" in v for v in value):
            raise ValueError("must not contain NUL characters")
        return value


class ReadSchema(BaseModel):
    model_config = ConfigDict(from_attributes=True)
