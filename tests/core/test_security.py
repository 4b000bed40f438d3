"""The token codec: verified tokens are remembered, and nothing else."""

import time
import uuid

import pytest

from app.core import security
from app.core.config import Settings
from app.core.security import InvalidToken, TokenCodec


@pytest.fixture
def codec():
    return TokenCodec(Settings(jwt_secret="c" * 40, access_token_minutes=1))


def test_a_verified_token_is_not_verified_again(codec, monkeypatch):
    token = codec.issue(uuid.uuid4(), ["member"], 3)
    calls = []
    original = codec._verify
    monkeypatch.setattr(codec, "_verify", lambda t: calls.append(t) or original(t))
    first, second = codec.decode(token), codec.decode(token)
    assert first == second and first.token_version == 3 and len(calls) == 1


def test_a_remembered_token_is_verified_again_once_expired(codec, monkeypatch):
    """Past its expiry the entry is dropped and the full verification (which refuses expired
    tokens, see tests/auth/test_tokens.py) runs again."""
    token = codec.issue(uuid.uuid4(), ["member"], 0)
    claims = codec.decode(token)
    calls = []
    monkeypatch.setattr(codec, "_verify", lambda t: calls.append(t) or claims)
    monkeypatch.setattr(security.time, "time", lambda: claims.expires_at + 29)
    codec.decode(token)
    assert calls == []  # still within the leeway
    monkeypatch.setattr(security.time, "time", lambda: claims.expires_at + 31)
    codec.decode(token)
    assert calls == [token]


def test_a_tampered_copy_of_a_remembered_token_fails(codec):
    token = codec.issue(uuid.uuid4(), ["member"], 0)
    codec.decode(token)
    header, payload, signature = token.split(".")
    with pytest.raises(InvalidToken):
        codec.decode(f"{header}.{payload}.{signature[:-2]}xx")
    with pytest.raises(InvalidToken):
        codec.decode(token + "x")


def test_the_memory_is_bounded(codec, monkeypatch):
    monkeypatch.setattr(security, "VERIFIED_CACHE_SIZE", 5)
    tokens = [codec.issue(uuid.uuid4(), ["member"], 0) for _ in range(8)]
    for token in tokens:
        codec.decode(token)
    assert list(codec._verified) == tokens[-5:]
    assert time.time() < codec.decode(tokens[0]).expires_at  # evicted, verified again
