"""Auth review (session 12): private_key_jwt client assertions (RFC 7523) at /oauth/token.

The algorithm in the assertion's header must be one its registered key may verify (an RS256
or PS256 header against an EC key raised inside PyJWT: 503 for anyone who knows a client_id);
``exp`` must be a real instant (``NaN`` passed every comparison, so the lifetime cap did not
apply and the replay entry was never pruned); ``jti`` a non-empty string; and ``nbf``/``iat``
are judged by the gateway's clock with the same 30 s leeway as ``exp`` (PyJWT judged them by
the wall clock with none: an assertion from a client one second ahead was refused, and the
injected clock was ignored).
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from ringfence.gateway.clients import CreatedClient, create_client
from tests.gateway.conftest import Env

FORM = {
    "grant_type": "client_credentials",
    "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


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


def _claims(env: Env, client: CreatedClient, jti: str, **over: Any) -> dict[str, Any]:
    now = int(env.rt.clock.now().timestamp())
    claims = {
        "iss": client.client_id,
        "sub": client.client_id,
        "aud": env.gateway.config.issuer,  # the issuer alone (rfc7523bis)
        "exp": now + 60,
        "iat": now,
        "jti": jti,
    }
    claims.update(over)
    return claims


async def _post(env: Env, assertion: str) -> tuple[int, dict[str, Any]]:
    r = await env.http.post("/oauth/token", data={**FORM, "client_assertion": assertion})
    return r.status_code, r.json()


@pytest.mark.parametrize("alg", ["RS256", "PS256", "EdDSA"])
async def test_an_algorithm_the_clients_key_cannot_verify_is_invalid_client(
    env: Env, alg: str
) -> None:
    client = _client(env, ec.generate_private_key(ec.SECP256R1()))
    header = _b64(json.dumps({"alg": alg, "kid": "k1", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(_claims(env, client, "alg-" + alg)).encode())
    status, body = await _post(env, f"{header}.{payload}.{_b64(b'x' * 256)}")
    assert status == 401 and body["error"] == "invalid_client"


async def test_a_nan_expiry_is_refused(env: Env) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    client = _client(env, key)
    # Python's json (PyJWT's reader) takes NaN; the signature is the client's own
    payload = json.dumps(_claims(env, client, "nan", exp=float("nan"))).encode()
    assertion = jwt.api_jws.encode(payload, key, algorithm="ES256", headers={"kid": "k1"})
    status, body = await _post(env, assertion)
    assert status == 401 and body["error"] == "invalid_client"


@pytest.mark.parametrize("jti", ["", "x" * 257])
async def test_an_empty_or_huge_jti_is_refused(env: Env, jti: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    client = _client(env, key)
    assertion = jwt.encode(_claims(env, client, jti), key, algorithm="ES256", headers={"kid": "k1"})
    status, body = await _post(env, assertion)
    assert status == 401 and body["error"] == "invalid_client"


async def test_a_client_clock_a_few_seconds_ahead_is_within_the_leeway(env: Env) -> None:
    # the gateway's clock at the wall clock's time, the client's five seconds ahead
    env.rt.clock.advance(time.time() - env.rt.clock.now().timestamp())  # type: ignore[attr-defined]
    key = ec.generate_private_key(ec.SECP256R1())
    client = _client(env, key)
    now = int(time.time())
    claims = _claims(env, client, "ahead", iat=now + 5, nbf=now + 5, exp=now + 65)
    assertion = jwt.encode(claims, key, algorithm="ES256", headers={"kid": "k1"})
    status, body = await _post(env, assertion)
    assert status == 200, body


async def test_an_assertion_not_yet_valid_by_the_gateways_clock_is_refused(env: Env) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    client = _client(env, key)
    now = int(env.rt.clock.now().timestamp())
    for i, over in enumerate(({"nbf": now + 120}, {"iat": now + 120}, {"nbf": "soon"})):
        claims = _claims(env, client, f"early-{i}", **over)
        assertion = jwt.encode(claims, key, algorithm="ES256", headers={"kid": "k1"})
        status, body = await _post(env, assertion)
        assert status == 401 and body["error"] == "invalid_client", over


async def test_a_good_assertion_still_works_once(env: Env) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    client = _client(env, key)
    assertion = jwt.encode(
        _claims(env, client, "good"), key, algorithm="ES256", headers={"kid": "k1"}
    )
    assert (await _post(env, assertion))[0] == 200
    status, body = await _post(env, assertion)
    assert status == 401 and body["error_description"] == "assertion replayed"


@pytest.mark.parametrize("alg", ["RS256", "PS256"])
async def test_an_rsa_key_verifies_rs256_and_ps256(env: Env, alg: str) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "r1"})
    client = create_client(
        env.rt.store,
        env.rt.clock,
        integration="hr-to-crm",
        name="pkjwt-rsa",
        scopes=["crm.read"],
        auth_method="private_key_jwt",
        jwks={"keys": [jwk]},
    )
    env.gateway.holder.reload()
    claims = _claims(env, client, "rsa-" + alg)
    assertion = jwt.encode(claims, key, algorithm=alg, headers={"kid": "r1"})
    assert (await _post(env, assertion))[0] == 200


async def test_gateways_sharing_a_replay_claim_accept_an_assertion_once(
    env: Env, gw_runtime: Any, gw_config: Any
) -> None:
    """Two gateway processes on one store: with a shared claim (ReplayCache.shared) the second
    refuses what the first accepted. Without one each process keeps its own memory and both
    accept it (the lead wires a store-backed claim; see the auth review's report)."""
    import httpx

    from ringfence.gateway.app import build_gateway

    claimed: set[str] = set()  # what a table keyed on the claim would hold

    def claim(key: str, exp: float, now: float) -> bool:
        if key in claimed:
            return False
        claimed.add(key)
        return True

    key = ec.generate_private_key(ec.SECP256R1())
    client = _client(env, key)
    other = build_gateway(
        gw_runtime.store, gw_runtime.vault, config=gw_config, clock=gw_runtime.clock
    )
    await other.startup()
    try:
        env.gateway.tokens.replay.shared = claim
        other.tokens.replay.shared = claim
        assertion = jwt.encode(
            _claims(env, client, "shared"), key, algorithm="ES256", headers={"kid": "k1"}
        )
        assert (await _post(env, assertion))[0] == 200
        transport = httpx.ASGITransport(app=other, client=("127.0.0.1", 50001))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw2") as http:
            r = await http.post("/oauth/token", data={**FORM, "client_assertion": assertion})
        assert r.status_code == 401 and r.json()["error_description"] == "assertion replayed"
    finally:
        await other.shutdown()
