"""The ONLY module that touches python-jose and pwdlib: JWTs, password hashes, opaque tokens.

Keeping both libraries behind this module means a switch (PyJWT, joserfc) changes one file.
"""

import base64
import hashlib
import hmac
import re
import secrets
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from jose import JWTError, jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from starlette.concurrency import run_in_threadpool

from app.core.config import Settings

JWT_ALGORITHM = "HS256"
# python-jose requires nothing by default, so a token without exp would never expire.
_LEEWAY_SECONDS = 30
_DECODE_OPTIONS = {
    "require_exp": True,
    "require_iat": True,
    "require_sub": True,
    "require_aud": True,
    "require_iss": True,
    "leeway": _LEEWAY_SECONDS,
}
API_TOKEN_PREFIX = "dl_pat_"

# "Bearer", one space, a token68 (RFC 9110 11.4; the scheme is case-insensitive). The grammar
# allows more spaces, but a credential in any other shape is refused rather than tidied:
# every reader of the header (authentication, the idempotency layer's caller, a proxy's log)
# then sees the same credential.
_BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] ([A-Za-z0-9\-._~+/]+=*)")


def bearer_credential(authorization: str | None) -> str | None:
    """The credential of an ``Authorization: Bearer`` header, or None when there is none or
    it is not exactly of that shape."""
    if authorization is None:
        return None
    match = _BEARER.fullmatch(authorization)
    return match.group(1) if match else None


REFRESH_TOKEN_BYTES = 32


class InvalidToken(Exception):
    """The access token is malformed, forged, expired or for someone else."""


@dataclass(frozen=True, slots=True)
class AccessClaims:
    subject: uuid.UUID
    roles: frozenset[str]
    token_version: int
    expires_at: int  # Unix seconds


# Verified tokens, by their exact text: a client sends the same access token for its whole
# lifetime, and verifying it again costs a tenth of a read request. Only tokens that passed
# every check enter; expiry is checked again on each use; revocation is checked per request
# against the database by the caller, never cached here.
VERIFIED_CACHE_SIZE = 4096


class TokenCodec:
    def __init__(self, settings: Settings):
        self._secret = settings.jwt_secret
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._lifetime = timedelta(minutes=settings.access_token_minutes)
        self._verified: OrderedDict[str, AccessClaims] = OrderedDict()

    @property
    def lifetime_seconds(self) -> int:
        return int(self._lifetime.total_seconds())

    def issue(self, subject: uuid.UUID, roles: list[str], token_version: int) -> str:
        now = datetime.now(UTC)
        claims = {
            "sub": str(subject),
            "roles": sorted(roles),
            "ver": token_version,
            "iat": int(now.timestamp()),
            "exp": int((now + self._lifetime).timestamp()),
            "aud": self._audience,
            "iss": self._issuer,
            "jti": secrets.token_hex(8),
        }
        return jwt.encode(claims, self._secret, algorithm=JWT_ALGORITHM)

    def decode(self, token: str) -> AccessClaims:
        cached = self._verified.get(token)
        if cached is not None:
            if cached.expires_at + _LEEWAY_SECONDS > time.time():
                self._verified.move_to_end(token)
                return cached
            del self._verified[token]
        claims = self._verify(token)
        self._verified[token] = claims
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return claims

    def _verify(self, token: str) -> AccessClaims:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[JWT_ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options=_DECODE_OPTIONS,
            )
            subject = uuid.UUID(str(claims["sub"]))
            roles = claims.get("roles")
            version = claims.get("ver")
            if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
                raise InvalidToken("roles claim missing")
            if not isinstance(version, int):
                raise InvalidToken("ver claim missing")
        except (JWTError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise InvalidToken(str(error)) from error
        return AccessClaims(
            subject=subject,
            roles=frozenset(roles),
            token_version=version,
            expires_at=int(claims["exp"]),
        )


class PasswordHasher:
    """Argon2id; hashing and verifying run in the threadpool, off the event loop."""

    def __init__(self, settings: Settings):
        self._hash = PasswordHash(
            (
                Argon2Hasher(
                    memory_cost=settings.password_hash_memory_kib,
                    time_cost=settings.password_hash_time_cost,
                    parallelism=1,
                ),
            )
        )
        # Verified against when the e-mail is unknown, so both cases cost the same time.
        self._dummy = self._hash.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        return await run_in_threadpool(self._hash.hash, password)

    async def verify(self, password: str, password_hash: str | None) -> bool:
        target = password_hash or self._dummy
        ok = await run_in_threadpool(self._safe_verify, password, target)
        return ok and password_hash is not None

    def _safe_verify(self, password: str, password_hash: str) -> bool:
        try:
            return self._hash.verify(password, password_hash)
        except Exception:  # an unreadable stored hash is a failed login, not a 500
            return False


def new_refresh_token() -> str:
    return secrets.token_urlsafe(REFRESH_TOKEN_BYTES)


def new_api_token() -> str:
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_link_salt() -> str:
    """128 random bits for an e-mailed account link (see ``link_token``)."""
    return secrets.token_hex(16)


def link_token(secret: str, link_id: uuid.UUID, salt: str) -> str:
    """The token of an e-mailed account link: an HMAC-SHA256, under the server's secret, of
    the link's id and random salt (256 bits, URL-safe). The worker recomputes it when it
    writes the e-mail; the database keeps only its digest, so a copy of the database opens
    nothing."""
    mac = hmac.new(secret.encode(), f"account-link|{link_id}|{salt}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def token_digest(token: str) -> str:
    """SHA-256 of a high-entropy opaque token: enough, since it cannot be brute-forced."""
    return hashlib.sha256(token.encode()).hexdigest()


def sign_value(secret: str, purpose: str, value: str) -> str:
    """``value.mac``: a value the server hands out and gets back unchanged (an unsubscribe
    link). The MAC is an HMAC-SHA256 under the server's secret, bound to ``purpose`` so a
    token of one kind is worthless as another; rotating the secret voids every one."""
    mac = hmac.new(secret.encode(), f"{purpose}|{value}".encode(), hashlib.sha256)
    return f"{value}.{base64.urlsafe_b64encode(mac.digest()).rstrip(b'=').decode()}"


def unsign_value(secret: str, purpose: str, token: str) -> str | None:
    """The value of a token ``sign_value`` made, or None if it was not made so."""
    value, _, _ = token.rpartition(".")
    if not value or not hmac.compare_digest(sign_value(secret, purpose, value), token):
        return None
    return value


def calendar_feed_token(secret: str, member_id: uuid.UUID, salt: str) -> str:
    """The secret of a member's calendar feed URL (256 bits), remade from the salt when the
    member asks for the URL again; the database keeps only its digest."""
    mac = hmac.new(secret.encode(), f"calendar-feed|{member_id}|{salt}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()
