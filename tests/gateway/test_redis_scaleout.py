"""Scale-out: two gateway processes share exact Redis limits; Redis down means 503."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import redis
from sqlalchemy import select

from ringfence.gateway.models import GatewayRoute
from ringfence.runtime import Runtime
from tests.gateway.conftest import Template
from tests.gateway.procs import gateway_processes, private_redis
from tests.services import REDIS_URL, redis_prefix, unavailable

pytestmark = pytest.mark.redis


@contextmanager
def own_keys() -> Iterator[str]:
    """A Redis key prefix of this test's own; its keys are deleted afterwards."""
    prefix = redis_prefix()
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=prefix.rstrip(":") + "*"))
        if keys:
            client.delete(*keys)
        client.close()


def _set_limit(rt: Runtime, limit: str) -> None:
    with rt.store.session() as s:
        row = s.scalar(select(GatewayRoute).where(GatewayRoute.name == "crm"))
        assert row is not None
        spec = dict(row.spec)
        spec["rate_limit"] = limit
        # The loopback upstream is one thread inside the test process: give it time under load
        # so that every request the limiter lets through is answered 200.
        spec["limits"] = {**spec["limits"], "timeout_seconds": 20.0}
        row.spec = spec


async def _token(url: str, template: Template) -> str:
    assert template.a.client_secret is not None
    async with httpx.AsyncClient() as c:
        r = await c.post(
            url + "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(template.a.client_id, template.a.client_secret.get_secret_value()),
        )
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])


async def test_two_processes_enforce_an_exact_shared_limit(
    gw_runtime: Runtime, template: Template
) -> None:
    limit = 40
    _set_limit(gw_runtime, f"{limit}/minute")
    data_dir = gw_runtime.settings.data_dir
    with (
        own_keys() as prefix,
        gateway_processes(data_dir, 2, redis_url=REDIS_URL, prefix=prefix) as (g1, g2),
    ):
        token = await _token(g1, template)
        headers = {"authorization": f"Bearer {token}"}
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(limits=limits, timeout=20) as c:
            reqs = [c.get((g1, g2)[i % 2] + "/crm/contacts", headers=headers) for i in range(120)]
            responses = await asyncio.gather(*reqs)

        codes = Counter(r.status_code for r in responses)
        # on failure, what the unexpected answers said
        odd = [r.text[:500] for r in responses if r.status_code not in (200, 429, 503)]
        assert set(codes) <= {200, 429, 503}, (codes, odd)
        # Exactly the limit is admitted. The one allowance: a Redis reply later than the
        # limiter's timeout (seen once on the loaded CI machine at -n 2) is refused
        # fail-closed with 503, whether or not Redis had counted it — so with 503s the
        # admitted count may fall short by as many, never exceed the limit.
        assert codes[503] <= 2, codes
        assert limit - codes[503] <= codes[200] <= limit, codes
        by_proc = {(g1, g2)[i % 2] for i, r in enumerate(responses) if r.status_code == 200}
        assert len(by_proc) == 2  # both processes served part of the quota
        # A token revoked at one process is refused by the other within a second.
        assert template.a.client_secret is not None
        async with httpx.AsyncClient(timeout=10) as c:
            r = await c.post(
                g1 + "/oauth/revoke",
                data={"token": token},
                auth=(template.a.client_id, template.a.client_secret.get_secret_value()),
            )
            assert r.status_code == 200
            revoked_at = time.monotonic()
            status = 0
            while time.monotonic() - revoked_at < 1.0:
                status = (await c.get(g2 + "/crm/contacts", headers=headers)).status_code
                if status == 401:
                    break
                await asyncio.sleep(0.02)
            assert status == 401
            assert time.monotonic() - revoked_at < 1.0


async def test_killing_redis_turns_limited_routes_into_503(
    gw_runtime: Runtime, template: Template
) -> None:
    try:
        ctx = private_redis()
        redis_url, proc = ctx.__enter__()
    except FileNotFoundError:
        unavailable("redis-server", "binary not installed")
        return
    try:
        with gateway_processes(
            gw_runtime.settings.data_dir, 1, redis_url=redis_url, prefix="rf:kill:"
        ) as (gw,):
            token = await _token(gw, template)
            headers = {"authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(timeout=10) as c:
                assert (await c.get(gw + "/crm/contacts", headers=headers)).status_code == 200
                proc.kill()
                proc.wait()
                codes = [
                    (await c.get(gw + "/crm/contacts", headers=headers)).status_code
                    for _ in range(5)
                ]
                # A body the gateway would refuse (400) still gets the limiter's 503: the
                # limiter's verdict comes first, even though the hit is sent before the body
                # is checked.
                bad = await c.post(
                    gw + "/crm/contacts", headers=headers, json={"name": "x", "admin": True}
                )
                ready = await c.get(gw + "/readyz")
            assert codes == [503] * 5
            assert bad.status_code == 503, bad.text
            assert bad.json()["code"] == "ratelimit_unavailable"
            assert ready.status_code == 503
    finally:
        ctx.__exit__(None, None, None)


async def test_refused_bodies_count_and_the_limit_verdict_comes_first(
    gw_runtime: Runtime, template: Template
) -> None:
    """The hit is sent before the body is read and checked (so Redis answers meanwhile); the
    outcome is the same as checking the limit first: a request refused for its body counts
    against the limit and carries the RateLimit headers, and once the limit is spent a bad
    body is answered 429, not 4xx for the body."""
    _set_limit(gw_runtime, "3/minute")
    with (
        own_keys() as prefix,
        gateway_processes(gw_runtime.settings.data_dir, 1, redis_url=REDIS_URL, prefix=prefix) as (
            gw,
        ),
    ):
        token = await _token(gw, template)
        headers = {"authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(timeout=10) as c:
            url = gw + "/crm/contacts"
            refused = [
                await c.post(url, headers=headers, json={"name": "x", "admin": True})
                for _ in range(2)
            ]
            ok = await c.post(url, headers=headers, json={"name": "x"})
            over_bad = await c.post(url, headers=headers, json={"name": "x", "admin": True})
            over_good = await c.post(url, headers=headers, json={"name": "x"})
        assert [r.status_code for r in refused] == [400, 400], [r.text for r in refused]
        assert [r.headers["ratelimit-remaining"] for r in refused] == ["2", "1"]
        assert ok.status_code == 200 and ok.headers["ratelimit-remaining"] == "0"
        assert over_bad.status_code == 429, over_bad.text
        assert over_bad.json()["code"] == "rate_limited"
        assert "retry-after" in over_bad.headers
        assert over_good.status_code == 429
