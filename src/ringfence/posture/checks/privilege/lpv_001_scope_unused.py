"""RF-LPV-001: Granted scope unused by real traffic.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-LPV-001",
    title="Granted scope unused by real traffic",
    area="least_privilege",
    severity=Severity.MEDIUM,
    resource="integration",
    requires=("usage",),
    rationale="Scopes an integration never uses only add blast radius when it is compromised.",
    remediation="Apply `ringfence posture recommend` (minimal scope set from observed "
    "traffic) to ringfence.yaml and reissue the credential.",
)
def scope_unused(ctx: PostureContext) -> Iterator[Failure]:
    usage = ctx.usage or {}
    horizon = ctx.policy.unused_scope_days
    for i in ctx.integrations:
        used = usage.get(i.name)
        if used is None or not i.scopes:
            continue
        unused = []
        for s in i.scopes:
            u = used.scopes.get(s)
            age = ctx.days_since(u.last_seen) if u else None
            if u is None or u.count == 0 or (age is not None and age > horizon):
                unused.append(s)
        if unused:
            yield fail(
                "integration",
                i.name,
                f"{i.name} did not use {', '.join(unused)} in {horizon} days",
                unused=unused,
                used=sorted(s for s in i.scopes if s not in unused),
            )
