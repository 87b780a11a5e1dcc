"""Which bearer tokens our API accepts: Supabase user access tokens signed with the project's
secret (HS256) or its asymmetric keys (ES256/RS256 from the JWKS endpoint), and nothing else.
Every refusal is a 401 in the platform's error body."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from backend.auth.tokens import TokenService
from backend.errors import Unauthorized
from tests.conftest import TEST_JWT_SECRET, make_settings
from tests.fixtures.factories import Admin
from tests.fixtures.servers import LiveServer

# -- minting tokens by hand -------------------------------------------------------------------


def supabase_claims(user_id: str, email: str, **overrides: Any) -> dict[str, Any]:
    """The claims Supabase Auth puts in a user's access token."""
    now = int(time.time())
    claims = {
        "iss": "https://project.supabase.co/auth/v1",
        "aud": "authenticated",
        "sub": user_id,
        "exp": now + 3600,
        "iat": now,
        "email": email,
        "phone": "",
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {},
        "role": "authenticated",
        "aal": "aal1",
        "amr": [{"method": "password", "timestamp": now}],
        "session_id": str(uuid.uuid4()),
        "is_anonymous": False,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def hs256(claims: dict[str, Any], secret: str = TEST_JWT_SECRET, **kwargs: Any) -> str:
    return jwt.encode(claims, secret, algorithm=kwargs.pop("algorithm", "HS256"), **kwargs)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(claims: dict[str, Any]) -> str:
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64url(json.dumps(claims).encode())}."


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert {k: body[k] for k in ("success", "status", "code")} == {
        "success": False,
        "status": "error",
        "code": "UNAUTHORIZED",
    }
    assert body["message"]
    assert "Bearer" in response.headers["www-authenticate"]


# -- our API with hand-made tokens ------------------------------------------------------------


def _session(admin: Admin) -> str:
    """The admin's own sign-in session: a token counts only while its session lives."""
    return str(jwt.decode(admin.token, options={"verify_signature": False})["session_id"])


async def test_a_token_minted_with_the_project_secret_works(client, admin: Admin):
    token = hs256(supabase_claims(admin.user_id, admin.email, session_id=_session(admin)))
    response = await client.get("/api/workspaces", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert [w["id"] for w in response.json()["data"]] == [admin.workspace_id]


async def test_the_audience_may_be_a_list(client, admin: Admin):
    claims = supabase_claims(
        admin.user_id, admin.email, aud=["authenticated", "other"], session_id=_session(admin)
    )
    response = await client.get("/api/workspaces", headers=bearer(hs256(claims)))
    assert response.status_code == 200, response.text


def _swap_payload(token: str) -> str:
    # Another user's claims under this token's signature.
    header, _, signature = token.split(".")
    other = supabase_claims(str(uuid.uuid4()), "mallory@example.com")
    return f"{header}.{b64url(json.dumps(other).encode())}.{signature}"


def _claims(admin: Admin, **overrides: Any) -> dict[str, Any]:
    return supabase_claims(admin.user_id, admin.email, session_id=_session(admin), **overrides)


BAD_TOKENS: dict[str, Callable[[Admin, str], str]] = {
    "expired": lambda a, _: hs256(
        _claims(a, exp=int(time.time()) - 60, iat=int(time.time()) - 3660)
    ),
    "without exp": lambda a, _: hs256(_claims(a, exp=None)),
    "malformed": lambda a, _: "not-a-jwt",
    "three garbage parts": lambda a, _: "abc.def.ghi",
    "other secret": lambda a, _: hs256(_claims(a), secret="another-secret-that-is-long-enough-too"),
    "alg none": lambda a, _: unsigned(_claims(a)),
    "HS512 with the right secret": lambda a, _: hs256(_claims(a), algorithm="HS512"),
    "wrong aud": lambda a, _: hs256(_claims(a, aud="another-project")),
    "no aud": lambda a, _: hs256(_claims(a, aud=None)),
    "no sub": lambda a, _: hs256(_claims(a, sub=None)),
    "tampered payload": lambda a, _: _swap_payload(hs256(_claims(a))),
    "service-role key": lambda a, service_key: service_key,
}


# Our 45-byte test secret is short for HS512; that is beside the point here.
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("case", BAD_TOKENS)
async def test_bad_tokens_are_refused(client, admin: Admin, service_key: str, case: str):
    token = BAD_TOKENS[case](admin, service_key)
    assert_unauthorized(await client.get("/api/workspaces", headers=bearer(token)))


async def test_the_anon_key_alone_is_not_signed_in(client, anon_key: str):
    assert_unauthorized(await client.get("/api/workspaces", headers=bearer(anon_key)))


async def test_no_token_at_all(client):
    assert_unauthorized(await client.get("/api/workspaces"))


# -- asymmetric signing keys (JWKS) -----------------------------------------------------------


class SigningKeys:
    """A Supabase project's asymmetric keys, published at its JWKS endpoint."""

    def __init__(self) -> None:
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.fetches = 0

    def jwks(self) -> dict[str, Any]:
        ec_jwk = json.loads(ECAlgorithm.to_jwk(self.ec.public_key()))
        rsa_jwk = json.loads(RSAAlgorithm.to_jwk(self.rsa.public_key()))
        return {
            "keys": [
                {**ec_jwk, "kid": "ec-1", "alg": "ES256", "use": "sig", "key_ops": ["verify"]},
                {**rsa_jwk, "kid": "rsa-1", "alg": "RS256", "use": "sig", "key_ops": ["verify"]},
            ]
        }

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """A tiny ASGI app serving only the JWKS document."""
        if scope["type"] != "http":  # lifespan
            message = await receive()
            await send({"type": f"{message['type']}.complete"})
            return
        if scope["path"] == "/auth/v1/.well-known/jwks.json":
            self.fetches += 1
            status, body = 200, json.dumps(self.jwks()).encode()
        else:
            status, body = 404, b"{}"
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def keys() -> SigningKeys:
    return SigningKeys()


@pytest.fixture(scope="module")
def jwks_server(keys: SigningKeys) -> Iterator[LiveServer]:
    with LiveServer(keys) as server:
        yield server


@pytest.fixture
def tokens(database_url: str, jwks_server: LiveServer) -> TokenService:
    """A fresh verifier (empty key cache) for a project with asymmetric keys."""
    return TokenService(make_settings(database_url, supabase_url=jwks_server.url))


def user_claims() -> dict[str, Any]:
    return supabase_claims(str(uuid.uuid4()), "jwks@example.com")


async def test_es256_and_rs256_tokens_with_a_known_kid_verify(tokens, keys: SigningKeys):
    claims = user_claims()
    es = jwt.encode(claims, keys.ec, algorithm="ES256", headers={"kid": "ec-1"})
    rs = jwt.encode(claims, keys.rsa, algorithm="RS256", headers={"kid": "rsa-1"})
    assert (await tokens.verify_user_token(es))["sub"] == claims["sub"]
    assert (await tokens.verify_user_token(rs))["sub"] == claims["sub"]


async def test_hs256_still_verifies_with_the_secret_alongside_jwks(tokens):
    claims = user_claims()
    assert (await tokens.verify_user_token(hs256(claims)))["sub"] == claims["sub"]


def _other_ec_key_known_kid(keys: SigningKeys) -> str:
    stranger = ec.generate_private_key(ec.SECP256R1())
    return jwt.encode(user_claims(), stranger, algorithm="ES256", headers={"kid": "ec-1"})


def _other_rsa_key_known_kid(keys: SigningKeys) -> str:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(user_claims(), stranger, algorithm="RS256", headers={"kid": "rsa-1"})


def _hs256_keyed_with_the_public_key(keys: SigningKeys) -> str:
    # The classic algorithm confusion: the public key used as an HMAC secret.
    pem = keys.rsa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode())
    payload = b64url(json.dumps(user_claims()).encode())
    mac = hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(mac)}"


REFUSED: dict[str, Callable[[SigningKeys], str]] = {
    "unknown key, known kid (EC)": _other_ec_key_known_kid,
    "unknown key, known kid (RSA)": _other_rsa_key_known_kid,
    "unknown kid": lambda k: jwt.encode(
        user_claims(), k.ec, algorithm="ES256", headers={"kid": "ec-9"}
    ),
    "no kid": lambda k: jwt.encode(user_claims(), k.ec, algorithm="ES256"),
    "ES256 header on the RSA key": lambda k: jwt.encode(
        user_claims(), k.ec, algorithm="ES256", headers={"kid": "rsa-1"}
    ),
    "RS256 header on the EC key": lambda k: jwt.encode(
        user_claims(), k.rsa, algorithm="RS256", headers={"kid": "ec-1"}
    ),
    "PS256 (not configured)": lambda k: jwt.encode(
        user_claims(), k.rsa, algorithm="PS256", headers={"kid": "rsa-1"}
    ),
    "HS256 keyed with the public key": _hs256_keyed_with_the_public_key,
    "ES256 expired": lambda k: jwt.encode(
        {**user_claims(), "exp": int(time.time()) - 60},
        k.ec,
        algorithm="ES256",
        headers={"kid": "ec-1"},
    ),
    "ES256 wrong aud": lambda k: jwt.encode(
        {**user_claims(), "aud": "other"}, k.ec, algorithm="ES256", headers={"kid": "ec-1"}
    ),
}


@pytest.mark.parametrize("case", REFUSED)
async def test_asymmetric_tokens_from_anyone_else_are_refused(tokens, keys: SigningKeys, case):
    with pytest.raises(Unauthorized):
        await tokens.verify_user_token(REFUSED[case](keys))


async def test_a_flood_of_unknown_kids_fetches_the_keys_once(tokens, keys: SigningKeys):
    before = keys.fetches
    for n in range(20):
        token = jwt.encode(user_claims(), keys.ec, algorithm="ES256", headers={"kid": f"x-{n}"})
        with pytest.raises(Unauthorized):
            await tokens.verify_user_token(token)
    assert keys.fetches - before == 1
    # The cached keys still verify real tokens.
    good = jwt.encode(user_claims(), keys.ec, algorithm="ES256", headers={"kid": "ec-1"})
    await tokens.verify_user_token(good)
    assert keys.fetches - before == 1
