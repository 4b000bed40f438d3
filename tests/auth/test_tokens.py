"""The forged-token suite, and personal API tokens."""

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwe, jwt
from sqlalchemy import func, select

from app.models.member import Member
from app.models.token import ApiToken
from tests.conftest import TEST_SECRET

AUD, ISS = "digital-leaders-api", "digital-leaders"


def _claims(member_id, **overrides):
    now = datetime.now(UTC)
    claims = {
        "sub": str(member_id),
        "roles": ["member"],
        "ver": 0,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "aud": AUD,
        "iss": ISS,
    }
    for key, value in overrides.items():
        if value is None:
            claims.pop(key, None)
        else:
            claims[key] = value
    return claims


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


# An RSA key pair: its public half is what an algorithm-confusion attack signs HS256 with.
_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_RSA_PRIVATE_PEM = _RSA.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
_RSA_PUBLIC_PEM = _RSA.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)


def _hs256_by_hand(claims: dict, key: bytes) -> str:
    """HS256 signed without python-jose, which (since 3.4) refuses a PEM key as an HMAC secret;
    an attacker's own code has no such scruple."""
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(claims)}"
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def _forge(kind: str, member_id) -> str:
    sign = lambda claims, key=TEST_SECRET: jwt.encode(claims, key, algorithm="HS256")  # noqa: E731
    past = int((datetime.now(UTC) - timedelta(hours=1)).timestamp())
    if kind == "alg_none":
        return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(member_id))}."
    if kind == "wrong_key":
        return sign(_claims(member_id), "another-secret-" + "k" * 40)
    if kind == "no_exp":
        return sign(_claims(member_id, exp=None))
    if kind == "no_iat":
        return sign(_claims(member_id, iat=None))
    if kind == "expired":
        return sign(_claims(member_id, exp=past, iat=past - 60))
    if kind == "expired_beyond_leeway":
        # The leeway is 30 s: 45 s after expiry is past it.
        gone = int(datetime.now(UTC).timestamp()) - 45
        return sign(_claims(member_id, exp=gone, iat=gone - 300))
    if kind == "public_key_as_hmac":
        return _hs256_by_hand(_claims(member_id), _RSA_PUBLIC_PEM)
    if kind == "rs256":
        return jwt.encode(_claims(member_id), _RSA_PRIVATE_PEM, algorithm="RS256")
    if kind == "jwe":
        # Encrypted with the server's own secret as the key: still never decrypted.
        payload = json.dumps(_claims(member_id))
        return jwe.encrypt(
            payload, TEST_SECRET.encode()[:32], algorithm="dir", encryption="A256GCM"
        ).decode()
    if kind == "wrong_aud":
        return sign(_claims(member_id, aud="another-api"))
    if kind == "wrong_iss":
        return sign(_claims(member_id, iss="someone-else"))
    if kind == "no_aud":
        return sign(_claims(member_id, aud=None))
    if kind == "no_iss":
        return sign(_claims(member_id, iss=None))
    if kind == "no_sub":
        return sign(_claims(member_id, sub=None))
    if kind == "sub_not_uuid":
        return sign(_claims(member_id, sub="admin"))
    if kind == "no_version":
        return sign(_claims(member_id, ver=None))
    if kind == "unknown_member":
        return sign(_claims(uuid.uuid4()))
    if kind == "tampered_role":
        header, _payload, signature = sign(_claims(member_id)).split(".")
        return f"{header}.{_b64(_claims(member_id, roles=['admin']))}.{signature}"
    if kind == "hs512":
        return jwt.encode(_claims(member_id), TEST_SECRET, algorithm="HS512")
    if kind == "garbage":
        return "not.a.jwt"
    if kind == "empty_pat":
        return "dl_pat_"
    raise AssertionError(kind)


# The ten of the checklist (A4) first, then the rest of what a forger might try.
CHECKLIST_FORGERIES = [
    "alg_none",
    "wrong_key",
    "public_key_as_hmac",
    "no_exp",
    "expired_beyond_leeway",
    "wrong_aud",
    "wrong_iss",
    "no_sub",
    "tampered_role",
    "jwe",
]
FORGERIES = [
    *CHECKLIST_FORGERIES,
    "rs256",
    "no_iat",
    "expired",
    "no_aud",
    "no_iss",
    "sub_not_uuid",
    "no_version",
    "unknown_member",
    "hs512",
    "garbage",
    "empty_pat",
]


class TestForgedAccessTokens:
    @pytest.mark.parametrize("kind", FORGERIES)
    async def test_refused_with_401(self, client, factory, kind):
        actor = await factory.member("member")
        token = _forge(kind, actor.id)
        response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (kind, response.text)
        assert response.json()["type"] == "/problems/unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"

    async def test_genuine_token_passes(self, client, factory):
        actor = await factory.member("member")
        token = jwt.encode(_claims(actor.id), TEST_SECRET, algorithm="HS256")
        response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200

    async def test_expired_within_the_leeway_still_passes(self, client, factory):
        """The other side of ``expired_beyond_leeway``: 30 s of clock skew are forgiven."""
        actor = await factory.member("member")
        just = int(datetime.now(UTC).timestamp()) - 5
        token = jwt.encode(
            _claims(actor.id, exp=just, iat=just - 300), TEST_SECRET, algorithm="HS256"
        )
        response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200

    async def test_forged_tokens_never_reach_a_protected_route(self, client, factory):
        """The checklist's ten, each on an admin route too: 10/10 refused with 401."""
        actor = await factory.member("member")
        refused = 0
        for kind in CHECKLIST_FORGERIES:
            headers = {"Authorization": f"Bearer {_forge(kind, actor.id)}"}
            statuses = {
                (await client.get(path, headers=headers)).status_code
                for path in ("/api/v1/me", "/api/v1/audit", "/api/v1/webhooks")
            }
            refused += statuses == {401}
        assert refused == len(CHECKLIST_FORGERIES) == 10

    async def test_tampered_role_cannot_reach_admin_route(self, client, factory):
        actor = await factory.member("member")
        token = _forge("tampered_role", actor.id)
        response = await client.get("/api/v1/audit", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401

    @pytest.mark.parametrize("header", ["", "Bearer", "Basic dXNlcjpwYXNz", "Bearer  "])
    async def test_missing_or_malformed_header(self, client, header):
        headers = {"Authorization": header} if header else {}
        response = await client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401

    async def test_token_from_before_role_change_is_refused(self, client, factory):
        admin = await factory.member("admin", "member")
        actor = await factory.member("member")
        response = await client.put(
            f"/api/v1/members/{actor.id}/roles",
            headers=admin.headers,
            json={"roles": ["member", "reviewer"]},
        )
        assert response.status_code == 200
        assert (await client.get("/api/v1/me", headers=actor.headers)).status_code == 401


async def _create_pat(client, actor, scopes, **extra):
    response = await client.post(
        "/api/v1/me/tokens",
        headers=actor.headers,
        json={"name": "script", "scopes": scopes, **extra},
    )
    assert response.status_code == 201, response.text
    return response.json()


class TestApiTokens:
    async def test_created_shown_once_stored_hashed(self, client, factory, db):
        actor = await factory.member("member")
        created = await _create_pat(client, actor, ["read"])
        assert created["token"].startswith("dl_pat_")
        assert created["prefix"] == created["token"][:11]
        stored = (await db.execute(select(ApiToken))).scalar_one()
        assert stored.token_hash != created["token"] and len(stored.token_hash) == 64
        listed = (await client.get("/api/v1/me/tokens", headers=actor.headers)).json()
        assert [t["id"] for t in listed] == [created["id"]]
        assert "token" not in listed[0]

    async def test_scopes_limit_what_the_token_does(self, client, factory, db):
        actor = await factory.member("member")
        pat = {"Authorization": f"Bearer {(await _create_pat(client, actor, ['read']))['token']}"}
        me = await client.get("/api/v1/me", headers=pat)
        assert me.status_code == 200 and me.json()["id"] == str(actor.id)
        write = await client.patch("/api/v1/me", headers=pat, json={"city": "Kazan"})
        assert write.status_code == 403 and "'write' scope" in write.json()["detail"]
        db.expire_all()
        assert (await db.get(Member, actor.id)).city is None
        stored = (await db.execute(select(ApiToken))).scalar_one()
        assert stored.last_used_at is not None

    async def test_token_cannot_mint_tokens(self, client, factory, db):
        actor = await factory.member("member")
        raw = (await _create_pat(client, actor, ["read", "write"]))["token"]
        response = await client.post(
            "/api/v1/me/tokens",
            json={"name": "x", "scopes": ["read"]},
            headers={"Authorization": f"Bearer {raw}"},
        )
        assert response.status_code == 403
        assert await db.scalar(select(func.count()).select_from(ApiToken)) == 1

    async def test_admin_scope_needs_admin_role(self, client, factory, db):
        actor = await factory.member("member")
        response = await client.post(
            "/api/v1/me/tokens", headers=actor.headers, json={"name": "x", "scopes": ["admin"]}
        )
        assert response.status_code == 422 and "admin" in response.json()["detail"]
        assert await db.scalar(select(func.count()).select_from(ApiToken)) == 0
        admin = await factory.member("admin")
        raw = (await _create_pat(client, admin, ["read", "admin"]))["token"]
        assert (
            await client.get("/api/v1/audit", headers={"Authorization": f"Bearer {raw}"})
        ).status_code == 200
        read_only = (await _create_pat(client, admin, ["read"]))["token"]
        response = await client.get(
            "/api/v1/audit", headers={"Authorization": f"Bearer {read_only}"}
        )
        assert response.status_code == 403

    async def test_revoked_and_expired_tokens_are_refused(self, client, factory, db):
        actor = await factory.member("member")
        created = await _create_pat(client, actor, ["read"])
        pat = {"Authorization": f"Bearer {created['token']}"}
        revoke = await client.delete(f"/api/v1/me/tokens/{created['id']}", headers=actor.headers)
        assert revoke.status_code == 204
        assert (await client.get("/api/v1/me", headers=pat)).status_code == 401

        expiring = await _create_pat(client, actor, ["read"])
        stored = await db.get(ApiToken, uuid.UUID(expiring["id"]))
        stored.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        await db.flush()
        response = await client.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {expiring['token']}"}
        )
        assert response.status_code == 401

    async def test_someone_elses_token_is_not_found(self, client, factory):
        owner = await factory.member("member")
        other = await factory.member("member")
        created = await _create_pat(client, owner, ["read"])
        response = await client.delete(f"/api/v1/me/tokens/{created['id']}", headers=other.headers)
        assert response.status_code == 404

    async def test_token_follows_owner_roles(self, client, factory):
        admin = await factory.member("admin")
        actor = await factory.member("member")
        raw = (await _create_pat(client, actor, ["read"]))["token"]
        pat = {"Authorization": f"Bearer {raw}"}
        other = await factory.member("member")
        assert (await client.get(f"/api/v1/members/{other.id}", headers=pat)).status_code == 200
        await client.put(
            f"/api/v1/members/{actor.id}/roles",
            headers=admin.headers,
            json={"roles": ["applicant"]},
        )
        assert (await client.get(f"/api/v1/members/{other.id}", headers=pat)).status_code == 404

    async def test_expiry_bounds(self, client, factory):
        actor = await factory.member("member")
        for expires_at in ["2000-01-01T00:00:00Z", "2999-01-01T00:00:00Z", "2027-01-01T00:00:00"]:
            response = await client.post(
                "/api/v1/me/tokens",
                headers=actor.headers,
                json={"name": "x", "scopes": ["read"], "expires_at": expires_at},
            )
            assert response.status_code == 422, expires_at
