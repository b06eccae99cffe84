"""RF-IDN-012: Too many administrators in a SaaS tenant.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext, saas_of


@check(
    id="RF-IDN-012",
    title="Too many administrators in a SaaS tenant",
    area="identity",
    severity=Severity.LOW,
    resource="saas_tenant",
    requires=("saas",),
    rationale="Each admin widens the blast radius of one phished account.",
    remediation="Reduce standing admins; use just-in-time elevation.",
)
def too_many_admins(ctx: PostureContext) -> Iterator[Failure]:
    counts = Counter(p.vendor for p in saas_of(ctx).people if p.active and p.is_admin)
    for vendor, n in sorted(counts.items()):
        if n > ctx.policy.max_admins_per_tenant:
            yield fail(
                "saas_tenant",
                vendor,
                f"{vendor} has {n} admins (policy max {ctx.policy.max_admins_per_tenant})",
                admins=n,
            )
