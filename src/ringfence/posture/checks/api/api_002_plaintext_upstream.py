"""RF-API-002: Gateway route with plaintext upstream.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.checks.api._common import _plaintext
from ringfence.posture.context import PostureContext


@check(
    id="RF-API-002",
    title="Gateway route with plaintext upstream",
    area="api",
    severity=Severity.HIGH,
    resource="route",
    requires=("routes",),
    rationale="The gateway injects credentials upstream; over http they leak.",
    remediation="Point the route at the https:// upstream.",
)
def plaintext_upstream(ctx: PostureContext) -> Iterator[Failure]:
    for r in ctx.routes or ():
        if _plaintext(r.upstream):
            yield fail("route", r.name, f"route {r.name} forwards to plaintext {r.upstream}")
