"""RF-CRD-013: SaaS token unused for 90 days.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext, saas_of


@check(
    id="RF-CRD-013",
    title="SaaS token unused for 90 days",
    area="credentials",
    severity=Severity.MEDIUM,
    resource="saas_grant",
    requires=("saas",),
    rationale="An idle token can be revoked with no impact.",
    remediation="Revoke the token through the connector.",
)
def saas_token_unused(ctx: PostureContext) -> Iterator[Failure]:
    limit = ctx.policy.credential_unused_days
    for g in saas_of(ctx).grants:
        idle = ctx.days_since(g.last_used_at)
        if idle is not None and idle > limit:
            yield fail(
                "saas_grant",
                f"{g.vendor}:{g.external_id}",
                f"{g.vendor} token of {g.principal} unused for {int(idle)} days",
            )
