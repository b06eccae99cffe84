"""Gateway plumbing kept out of the request pipeline: Prometheus metrics and the cache of
OAuth 2.0 client-credentials tokens the gateway uses *towards* upstreams.

Upstream tokens are held in memory only and never logged; the client secret comes from the
policy snapshot as a ``SecretStr``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx
from prometheus_client import CollectorRegistry, Counter, Histogram

from ringfence.core.clock import Clock
from ringfence.core.errors import UnavailableError
from ringfence.gateway.policy import CompiledRoute
from ringfence.gateway.routes import is_private_host


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "ringfence_gateway_requests_total",
            "Gateway requests by integration, route and decision",
            ["integration", "route", "decision"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ringfence_gateway_request_seconds",
            "Gateway request latency",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            "ringfence_gateway_upstream_errors_total",
            "Upstream errors by route and kind",
            ["route", "kind"],
            registry=self.registry,
        )


class UpstreamTokens:
    """OAuth 2.0 client-credentials tokens *to* upstreams, cached and refreshed early."""

    def __init__(self, client: httpx.AsyncClient, clock: Clock) -> None:
        self._client = client
        self._clock = clock
        self._cache: dict[str, tuple[str, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def token(self, route: CompiledRoute) -> str:
        cred = route.credential
        assert cred is not None and cred.token_url and cred.client_id
        now = self._clock.now().timestamp()
        cached = self._cache.get(route.name)
        if cached and cached[1] - 30 > now:
            return cached[0]
        lock = self._locks.setdefault(route.name, asyncio.Lock())
        async with lock:
            cached = self._cache.get(route.name)
            if cached and cached[1] - 30 > now:
                return cached[0]
            host = httpx.URL(cred.token_url).host
            if not route.allow_loopback and (
                not cred.token_url.startswith("https://") or is_private_host(host)
            ):
                raise UnavailableError("upstream token URL refused", code="broker_unavailable")
            data = {"grant_type": "client_credentials"}
            if cred.scope:
                data["scope"] = cred.scope
            try:
                resp = await self._client.post(
                    cred.token_url,
                    data=data,
                    auth=(cred.client_id, cred.secret.get_secret_value()),
                    timeout=10,
                )
                payload = resp.json() if resp.status_code == 200 else {}
                token = str(payload["access_token"])
                ttl = float(payload.get("expires_in", 300))
            except Exception:
                raise UnavailableError(
                    "upstream token endpoint failed", code="broker_unavailable"
                ) from None
            self._cache[route.name] = (token, now + ttl)
            return token
