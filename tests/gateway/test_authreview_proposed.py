"""Auth review (session 12) — tests for the two fixes proposed to the lead (app.py, models).

1. A private_key_jwt client assertion is single-use across every gateway process sharing the
   store (and across restarts), not once per process.
2. Behind a trusted proxy the /oauth/* limit counts each client address (the one the proxy
   appended to X-Forwarded-For), not the proxy's: one guesser no longer locks every
   integration behind the same proxy out of the token endpoint.
"""

from __future__ import annotations

import json
import time

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from ringfence.gateway.app import build_gateway
from ringfence.gateway.clients import create_client
from ringfence.gateway.config import GatewayConfig
from ringfence.runtime import Runtime
from tests.gateway.conftest import Env
from tests.gateway.procs import gateway_processes

FORM = {
    "grant_type": "client_credentials",
    "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
}


def test_an_assertion_is_single_use_across_processes_and_restarts(gw_runtime: Runtime) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
    jwk["kid"] = "k1"
    client = create_client(
        gw_runtime.store,
        gw_runtime.clock,
        integration="hr-to-crm",
        name="pkjwt",
        scopes=["crm.read"],
        auth_method="private_key_jwt",
        jwks={"keys": [jwk]},
    )
    now = int(time.time())  # real processes: the system clock
    claims = {
        "iss": client.client_id,
        "sub": client.client_id,
        "aud": "https://gateway.ringfence.local",  # the issuer (rfc7523bis)
        "exp": now + 300,
        "jti": "once",
    }
    assertion = jwt.encode(claims, key, algorithm="ES256", headers={"kid": "k1"})
    data = {**FORM, "client_assertion": assertion}
    with gateway_processes(gw_runtime.settings.data_dir, 2, redis_url=None) as (g1, g2):
        assert httpx.post(g1 + "/oauth/token", data=data).status_code == 200
        r = httpx.post(g2 + "/oauth/token", data=data)
        assert r.status_code == 401 and r.json()["error_description"] == "assertion replayed"
    with gateway_processes(gw_runtime.settings.data_dir, 1, redis_url=None) as (g3,):
        r = httpx.post(g3 + "/oauth/token", data=data)
        assert r.status_code == 401 and r.json()["error_description"] == "assertion replayed"


async def test_behind_a_trusted_proxy_the_oauth_limit_counts_each_client(env: Env) -> None:
    gw = build_gateway(
        env.rt.store,
        env.rt.vault,
        clock=env.rt.clock,
        config=GatewayConfig(
            oauth_rate_limit="3/minute", dlp_engine="builtin", trusted_proxies=["10.9.0.0/16"]
        ),
    )
    assert env.a.client_secret is not None
    proxy = httpx.ASGITransport(app=gw, client=("10.9.0.5", 4000))
    async with httpx.AsyncClient(transport=proxy, base_url="http://g") as c:
        for _ in range(4):  # a guesser behind the proxy uses up its own budget
            await c.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(env.a.client_id, "rf_cs_guessing"),
                headers={"x-forwarded-for": "203.0.113.66"},
            )
        guessed = await c.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(env.a.client_id, "rf_cs_guessing"),
            headers={"x-forwarded-for": "203.0.113.66"},
        )
        assert guessed.status_code == 429
        # a client-supplied X-Forwarded-For before the proxy's entry changes nothing
        spoofed = await c.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(env.a.client_id, "rf_cs_guessing"),
            headers={"x-forwarded-for": "198.51.100.1, 203.0.113.66"},
        )
        assert spoofed.status_code == 429
        # another integration behind the same proxy still gets its token
        ok = await c.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(env.a.client_id, env.a.client_secret.get_secret_value()),
            headers={"x-forwarded-for": "198.51.100.7"},
        )
        assert ok.status_code == 200, ok.text
    # an untrusted peer's X-Forwarded-For is ignored: it cannot pick a fresh budget per request
    direct = httpx.ASGITransport(app=gw, client=("192.0.2.9", 4000))
    async with httpx.AsyncClient(transport=direct, base_url="http://g") as c:
        codes = [
            (
                await c.post(
                    "/oauth/token",
                    data={"grant_type": "client_credentials"},
                    auth=(env.a.client_id, "rf_cs_guessing"),
                    headers={"x-forwarded-for": f"198.51.100.{i}"},
                )
            ).status_code
            for i in range(5)
        ]
    await gw.shutdown()
    assert codes == [401, 401, 401, 429, 429]
