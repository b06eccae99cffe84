"""API2:2023 Broken Authentication — forged, expired, mis-addressed and unbound tokens."""

from __future__ import annotations

import pytest

from tests.gateway.attacks import alg_none_token, hs256_with_public_key, signed_token
from tests.gateway.conftest import Env


async def test_no_credentials_is_401_with_challenge(env: Env) -> None:
    r = await env.http.get("/crm/contacts")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")


async def test_alg_none_is_rejected(env: Env) -> None:
    r = await env.get("/crm/contacts", alg_none_token(env.gateway, env.a.client_id))
    assert r.status_code == 401
    assert r.json()["code"] == "token_alg"


async def test_hs256_signed_with_public_key_is_rejected(env: Env) -> None:
    r = await env.get("/crm/contacts", hs256_with_public_key(env.gateway, env.a.client_id))
    assert r.status_code == 401
    assert r.json()["code"] == "token_alg"


async def test_expired_token_is_rejected(env: Env) -> None:
    token = await env.token(env.a)
    env.rt.clock.advance(minutes=20)  # type: ignore[attr-defined]
    r = await env.get("/crm/contacts", token)
    assert r.status_code == 401
    assert r.json()["code"] == "token_expired"


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"aud": "some-other-api"}, "token_audience"),
        ({"iss": "https://evil.example"}, "token_issuer"),
    ],
)
async def test_wrong_audience_or_issuer_is_rejected(
    env: Env, claims: dict[str, str], code: str
) -> None:
    r = await env.get("/crm/contacts", signed_token(env.gateway, env.a.client_id, **claims))
    assert r.status_code == 401
    assert r.json()["code"] == code


async def test_not_yet_valid_token_is_rejected(env: Env) -> None:
    now = int(env.rt.clock.now().timestamp())
    token = signed_token(env.gateway, env.a.client_id, nbf=now + 600, iat=now + 600, exp=now + 900)
    r = await env.get("/crm/contacts", token)
    assert r.status_code == 401


async def test_tampered_signature_is_rejected(env: Env) -> None:
    token = await env.token(env.a)
    head, body, sig = token.split(".")
    r = await env.get("/crm/contacts", f"{head}.{body}.{sig[:-4]}AAAA")
    assert r.status_code == 401


async def test_wrong_client_secret_gets_invalid_client(env: Env) -> None:
    r = await env.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(env.a.client_id, "rf_cs_wrong"),
    )
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"


async def test_revoked_token_is_rejected(env: Env) -> None:
    token = await env.token(env.a)
    assert (await env.get("/crm/contacts", token)).status_code == 200
    assert env.a.client_secret is not None
    r = await env.http.post(
        "/oauth/revoke",
        data={"token": token},
        auth=(env.a.client_id, env.a.client_secret.get_secret_value()),
    )
    assert r.status_code == 200
    assert (await env.get("/crm/contacts", token)).status_code == 401


async def test_garbage_api_key_is_rejected(env: Env) -> None:
    r = await env.http.get("/crm/contacts", headers={"x-api-key": "rf_gw_000000000000_" + "A" * 43})
    assert r.status_code == 401
    assert r.json()["code"] == "api_key_invalid"


async def test_token_endpoint_is_rate_limited_per_address(env: Env) -> None:
    import httpx

    from ringfence.gateway.app import build_gateway
    from ringfence.gateway.config import GatewayConfig

    gw = build_gateway(
        env.rt.store,
        env.rt.vault,
        clock=env.rt.clock,
        config=GatewayConfig(oauth_rate_limit="3/minute", dlp_engine="builtin"),
    )
    codes = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gw), base_url="http://g") as c:
        for _ in range(5):
            r = await c.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(env.a.client_id, "rf_cs_guessing"),
            )
            codes.append(r.status_code)
    await gw.shutdown()
    assert codes == [401, 401, 401, 429, 429]
    assert r.headers["retry-after"]
