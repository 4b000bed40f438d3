"""Entity tags: a strong hash of the representation the caller sees."""

import hashlib

from pydantic import BaseModel

from app.core.errors import PreconditionFailed


def etag_of_bytes(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()[:32]}"'


def etag_of(representation: BaseModel) -> str:
    return etag_of_bytes(representation.model_dump_json().encode())


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",")]


def matches(if_none_match: str | None, current: str) -> bool:
    """If-None-Match uses the weak comparison: ``W/"x"`` matches ``"x"``."""
    if if_none_match is None:
        return False
    return any(tag == "*" or tag.removeprefix("W/") == current for tag in _tags(if_none_match))


def check_if_match(if_match: str | None, current: str) -> None:
    """Refuse a write based on a stale read (RFC 9110 If-Match: strong comparison, so a weak
    tag never matches)."""
    if if_match is None or any(tag in ("*", current) for tag in _tags(if_match)):
        return
    raise PreconditionFailed(
        "The resource changed since you read it; fetch it again and reapply your change."
    )
