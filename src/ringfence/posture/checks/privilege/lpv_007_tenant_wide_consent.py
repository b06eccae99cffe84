"""RF-LPV-007: Tenant-wide consent to an app.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext, saas_of
from ringfence.posture.scopes import high_risk


@check(
    id="RF-LPV-007",
    title="Tenant-wide consent to an app",
    area="least_privilege",
    severity=Severity.HIGH,
    resource="saas_grant",
    requires=("saas",),
    rationale="Admin consent for all users lets the app act as anyone in the tenant.",
    remediation="Replace tenant-wide consent with per-user consent or remove the grant.",
)
def tenant_wide_consent(ctx: PostureContext) -> Iterator[Failure]:
    for g in saas_of(ctx).grants:
        if g.tenant_wide and high_risk(g.scopes, g.vendor):
            yield fail(
                "saas_grant",
                f"{g.vendor}:{g.external_id}",
                f"{g.app_name} has tenant-wide consent to {', '.join(g.scopes)}",
            )
