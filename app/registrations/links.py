"""Signed tokens for a registration: the single-use confirmation link and the check-in QR code.

Pure: the key, the clock and the nonce are passed in. A token is
``<registration id hex>.<nonce>.<expiry, unix seconds>.<signature>``; the signature is an
HMAC-SHA256 under a key derived for its purpose, so a QR code never works as a confirmation
link or the other way round. The confirmation link is single-use because its nonce is the
registration's current ``link_nonce``, which is rotated when the link is used.
"""

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime

# The form of every token ``mint`` makes (the signature is 24 bytes in unpadded base64url);
# the API schemas state it, so a malformed token is invalid input before any check.
TOKEN_PATTERN = r"^[0-9a-f]{32}\.[A-Za-z0-9_-]{1,64}\.[0-9]{1,12}\.[A-Za-z0-9_-]{32}$"

CONFIRM = "registration-confirm"
CHECK_IN = "registration-check-in"


class InvalidToken(ValueError):
    pass


@dataclass(frozen=True)
class TokenClaims:
    registration_id: uuid.UUID
    nonce: str
    expires_at: int | None


def _key(secret: str, purpose: str) -> bytes:
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()


def _signature(secret: str, purpose: str, payload: str) -> str:
    digest = hmac.new(_key(secret, purpose), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


def mint(
    secret: str, purpose: str, registration_id: uuid.UUID, nonce: str, expires_at: datetime | None
) -> str:
    expiry = str(int(expires_at.timestamp())) if expires_at is not None else "0"
    payload = f"{registration_id.hex}.{nonce}.{expiry}"
    return f"{payload}.{_signature(secret, purpose, payload)}"


def verify(secret: str, purpose: str, token: str, now: datetime) -> TokenClaims:
    """The claims of a genuine, unexpired token; ``InvalidToken`` otherwise (one message for
    every failure: a caller learns nothing about which part was wrong)."""
    parts = token.split(".")
    if len(parts) != 4:
        raise InvalidToken("malformed")
    payload, signature = ".".join(parts[:3]), parts[3]
    if not hmac.compare_digest(_signature(secret, purpose, payload), signature):
        raise InvalidToken("bad signature")
    raw_id, nonce, raw_expiry = parts[:3]
    try:
        registration_id = uuid.UUID(hex=raw_id)
        expiry = int(raw_expiry)
    except ValueError as exc:
        raise InvalidToken("malformed") from exc
    if expiry and expiry < now.timestamp():
        raise InvalidToken("expired")
    return TokenClaims(registration_id, nonce, expiry or None)
