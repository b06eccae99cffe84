"""Session 14: the /oauth/* limit is counted in the gateway's limiter store, so with Redis it is
exact across gateway processes (guessing secrets on N workers gets no N-fold budget); without
Redis it is per process, as docs/gateway.md says. A regression guard: the limit already used
the shared limiter; what changed is that `ringfence serve` and the workers now find Redis
through RINGFENCE_REDIS_URL too (test_session14_ops.py).
"""

from __future__ import annotations

import httpx
import pytest
import redis

from ringfence.gateway.app import Gateway, build_gateway
from ringfence.gateway.config import GatewayConfig
from tests.gateway.conftest import Env
from tests.services import REDIS_URL, redis_prefix

pytestmark = pytest.mark.redis


def _gateway(env: Env, prefix: str | None) -> Gateway:
    config = GatewayConfig(
        dlp_engine="builtin", oauth_rate_limit="3/minute", redis_prefix=prefix or "rf:unused:"
    )
    return build_gateway(
        env.rt.store,
        env.rt.vault,
        clock=env.rt.clock,
        config=config,
        redis_url=REDIS_URL if prefix is not None else None,
    )


async def _guess(gw: Gateway) -> int:
    transport = httpx.ASGITransport(app=gw, client=("198.51.100.7", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://g") as c:
        r = await c.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=("nobody", "guess")
        )
        return r.status_code


async def test_with_redis_the_oauth_limit_is_exact_across_gateways(env: Env) -> None:
    prefix = redis_prefix()
    one, two = _gateway(env, prefix), _gateway(env, prefix)
    try:
        seen = [await _guess(gw) for gw in (one, two, one, two, one)]
        assert seen == [401, 401, 401, 429, 429]
    finally:
        await one.shutdown()
        await two.shutdown()
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=prefix.rstrip(":") + "*"))
        if keys:
            client.delete(*keys)
        client.close()


async def test_without_redis_each_gateway_counts_alone(env: Env) -> None:
    one, two = _gateway(env, None), _gateway(env, None)
    try:
        seen = [await _guess(gw) for gw in (one, one, one, one, two)]
        assert seen == [401, 401, 401, 429, 401]  # the second process has its own budget
    finally:
        await one.shutdown()
        await two.shutdown()
