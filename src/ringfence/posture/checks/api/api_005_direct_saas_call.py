"""RF-API-005: Integration calls a SaaS directly, around the gateway.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-API-005",
    title="Integration calls a SaaS directly, around the gateway",
    area="api",
    severity=Severity.HIGH,
    resource="integration",
    requires=("usage",),
    rationale="Calls that bypass the gateway escape authorization, DLP and audit.",
    remediation="Revoke the integration's direct SaaS credential; broker it at the gateway.",
)
def direct_saas_call(ctx: PostureContext) -> Iterator[Failure]:
    usage = ctx.usage or {}
    for i in ctx.integrations:
        u = usage.get(i.name)
        if u is not None and u.direct_calls:
            hosts = ", ".join(f"{h} ({n})" for h, n in sorted(u.direct_calls.items()))
            yield fail("integration", i.name, f"{i.name} called {hosts} directly")
