"""Entity tags: a strong hash of the representation the caller sees."""

import hashlib

from pydantic import BaseModel

from app.core.errors import PreconditionFailed


def etag_of(representation: BaseModel) -> str:
    digest = hashlib.sha256(representation.model_dump_json().encode()).hexdigest()[:32]
    return f'"{digest}"'


def check_if_match(if_match: str | None, current: str) -> None:
    """Refuse a write based on a stale read (RFC 9110 If-Match, strong comparison)."""
    if if_match is None:
        return
    candidates = [tag.strip() for tag in if_match.split(",")]
    if "*" in candidates or current in candidates:
        return
    raise PreconditionFailed(
        "The resource changed since you read it; fetch it again and reapply your change."
    )
