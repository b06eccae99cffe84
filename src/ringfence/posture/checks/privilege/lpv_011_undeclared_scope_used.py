"""RF-LPV-011: Traffic uses a scope that is not declared.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-LPV-011",
    title="Traffic uses a scope that is not declared",
    area="least_privilege",
    severity=Severity.MEDIUM,
    resource="integration",
    requires=("usage",),
    rationale="Observed use of an undeclared scope means the declared inventory is wrong "
    "or the integration obtained more than it was granted.",
    remediation="Investigate; declare the scope if legitimate, revoke it otherwise.",
)
def undeclared_scope_used(ctx: PostureContext) -> Iterator[Failure]:
    usage = ctx.usage or {}
    for i in ctx.integrations:
        u = usage.get(i.name)
        if u is None:
            continue
        extra = sorted(s for s, c in u.scopes.items() if c.count and s not in i.scopes)
        if extra:
            yield fail(
                "integration",
                i.name,
                f"{i.name} used undeclared scope(s) {', '.join(extra)}",
                scopes=extra,
            )
