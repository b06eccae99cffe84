"""RF-API-007: Route allows loopback/plaintext upstreams.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-API-007",
    title="Route allows loopback/plaintext upstreams",
    area="api",
    severity=Severity.MEDIUM,
    resource="route",
    requires=("routes",),
    rationale="allow_loopback is a test switch; in production it opens SSRF to internal services.",
    remediation="Remove allow_loopback from the route.",
)
def route_loopback(ctx: PostureContext) -> Iterator[Failure]:
    for r in ctx.routes or ():
        if r.allow_loopback:
            yield fail("route", r.name, f"route {r.name} allows loopback upstreams")
