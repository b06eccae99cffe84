"""RF-API-004: Route without rate limit.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-API-004",
    title="Route without rate limit",
    area="api",
    severity=Severity.MEDIUM,
    resource="route",
    requires=("routes",),
    rationale="Unlimited routes allow bulk exfiltration and resource exhaustion (OWASP API4).",
    remediation="Set rate_limit on the route.",
)
def route_without_rate_limit(ctx: PostureContext) -> Iterator[Failure]:
    for r in ctx.routes or ():
        if not r.rate_limit:
            yield fail("route", r.name, f"route {r.name} has no rate limit")
