"""Session 14: a client assertion's ``aud`` is the gateway's issuer identifier, alone.

draft-ietf-oauth-rfc7523bis (IESG-approved update of RFC 7523 §3, after the audience-injection
attack on private_key_jwt): for client authentication the ``aud`` MUST be the authorization
server's issuer identifier as its sole value — a string, or a list of that one string — the
token endpoint URL MUST NOT be used, and the server MUST reject anything else. Before, the
gateway wanted the token endpoint and PyJWT accepted any list that contained it, so
``["<token endpoint>", "https://elsewhere"]`` passed. The token endpoint alone is accepted
only with ``RINGFENCE_GATEWAY_ASSERTION_AUDIENCE=issuer_or_token_endpoint`` (a transition).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from ringfence.gateway.app import build_gateway
from ringfence.gateway.clients import CreatedClient, create_client
from ringfence.gateway.config import GatewayConfig
from ringfence.gateway.oauth import TokenService
from tests.gateway.conftest import Env

FORM = {
    "grant_type": "client_credentials",
    "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
}
ISSUER = "https://gateway.ringfence.local"
ENDPOINT = ISSUER + "/oauth/token"


def _client(env: Env, key: ec.EllipticCurvePrivateKey) -> CreatedClient:
    jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "k1", "use": "sig"})
    client = create_client(
        env.rt.store,
        env.rt.clock,
        integration="hr-to-crm",
        name="pkjwt",
        scopes=["crm.read"],
        auth_method="private_key_jwt",
        jwks={"keys": [jwk]},
    )
    env.gateway.holder.reload()
    return client


def _assertion(
    env: Env, key: ec.EllipticCurvePrivateKey, client: CreatedClient, aud: Any, jti: str
) -> str:
    now = int(env.rt.clock.now().timestamp())
    claims = {
        "iss": client.client_id,
        "sub": client.client_id,
        "aud": aud,
        "exp": now + 60,
        "iat": now,
        "jti": jti,
    }
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": "k1"})


async def _post(http: httpx.AsyncClient, assertion: str) -> tuple[int, dict[str, Any]]:
    r = await http.post("/oauth/token", data={**FORM, "client_assertion": assertion})
    return r.status_code, r.json()


@pytest.mark.parametrize("aud", [ISSUER, [ISSUER]], ids=["string", "one-item-list"])
async def test_the_issuer_alone_is_the_audience(env: Env, aud: Any) -> None:
    assert env.gateway.config.issuer == ISSUER
    key = ec.generate_private_key(ec.SECP256R1())
    client = _client(env, key)
    status, body = await _post(env.http, _assertion(env, key, client, aud, "ok"))
    assert status == 200, body


@pytest.mark.parametrize(
    ("aud", "problem"),
    [
        # lists naming another audience too: the injection's shape, refused even with the issuer
        ([ISSUER, "https://elsewhere.example"], "not a list of audiences"),
        ([ENDPOINT, "https://elsewhere.example"], "not a list of audiences"),
        ([ISSUER, ENDPOINT], "not a list of audiences"),
        ([], "not a list of audiences"),
        # the token endpoint (RFC 7523's old suggestion) is no longer an audience
        (ENDPOINT, "not the token endpoint"),
        ([ENDPOINT], "not the token endpoint"),
        ("https://elsewhere.example", "is not this gateway's issuer"),
        (ISSUER + "/", "is not this gateway's issuer"),  # simple string comparison
        (7, "must be a string"),
        ([None], "must be a string"),
    ],
)
async def test_any_other_audience_is_invalid_client_naming_the_problem(
    env: Env, aud: Any, problem: str
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    client = _client(env, key)
    status, body = await _post(env.http, _assertion(env, key, client, aud, "bad"))
    assert status == 401 and body["error"] == "invalid_client", body
    assert problem in body["error_description"]
    # the refused assertion did not use its jti up: a good one with the same jti still works
    status, body = await _post(env.http, _assertion(env, key, client, ISSUER, "bad"))
    assert status == 200, body


async def test_the_token_endpoint_alone_is_accepted_only_in_transition(env: Env) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    client = _client(env, key)
    gw = build_gateway(
        env.rt.store,
        env.rt.vault,
        clock=env.rt.clock,
        config=GatewayConfig(dlp_engine="builtin", assertion_audience="issuer_or_token_endpoint"),
    )
    transport = httpx.ASGITransport(app=gw, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://g") as http:
        status, body = await _post(http, _assertion(env, key, client, ENDPOINT, "t-1"))
        assert status == 200, body
        status, body = await _post(http, _assertion(env, key, client, ISSUER, "t-2"))
        assert status == 200, body
        # still one audience only
        both = [ISSUER, ENDPOINT]
        status, body = await _post(http, _assertion(env, key, client, both, "t-3"))
        assert status == 401 and "not a list of audiences" in body["error_description"]
    await gw.shutdown()


def test_an_unknown_audience_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="assertion_audience"):
        GatewayConfig(assertion_audience="anything")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="assertion_audience"):
        TokenService(ISSUER, "aud", 600, ENDPOINT, None, assertion_audience="x")  # type: ignore[arg-type]
