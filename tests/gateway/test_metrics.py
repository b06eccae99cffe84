"""The gateway's request metrics: counted in plain Python, scraped as Prometheus text that is
the same as prometheus_client's own Counter and Histogram would give for the same requests."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from ringfence.gateway.support import LATENCY_BUCKETS, Metrics


def _samples(text: bytes) -> set[str]:
    # prometheus_client's own metrics also print *_created timestamps; ours do not
    return {
        line
        for line in text.decode().splitlines()
        if line and not line.startswith("#") and "_created" not in line
    }


def test_scraped_metrics_equal_prometheus_clients_own() -> None:
    ours = Metrics()
    registry = CollectorRegistry()
    requests = Counter(
        "ringfence_gateway_requests_total",
        "Gateway requests by integration, route and decision",
        ["integration", "route", "decision"],
        registry=registry,
    )
    latency = Histogram(
        "ringfence_gateway_request_seconds",
        "Gateway request latency",
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    rng = random.Random(7)
    # every bucket edge exactly (le is inclusive), values around them and beyond the last
    values = [*LATENCY_BUCKETS, 0.0, 0.0009999, 0.0010001, 11.0, 1e6]
    values += [rng.expovariate(200) for _ in range(3000)]
    for i, seconds in enumerate(values):
        labels = (
            rng.choice(["crm-sync", "-", 'odd"name\\']),
            rng.choice(["crm", "-"]),
            ("allow", "deny", "error")[i % 3],
        )
        ours.requests.record(*labels, seconds)
        requests.labels(*labels).inc()
        latency.observe(seconds)
    mine, theirs = generate_latest(ours.registry), generate_latest(registry)
    assert _samples(mine) - {s for s in _samples(mine) if "upstream_errors" in s} == _samples(
        theirs
    )
    assert b"# TYPE ringfence_gateway_requests_total counter" in mine
    assert b"# TYPE ringfence_gateway_request_seconds histogram" in mine


def test_no_requests_yet_scrapes_an_empty_histogram() -> None:
    text = generate_latest(Metrics().registry).decode()
    assert 'ringfence_gateway_request_seconds_bucket{le="+Inf"} 0.0' in text
    assert "ringfence_gateway_request_seconds_count 0.0" in text
