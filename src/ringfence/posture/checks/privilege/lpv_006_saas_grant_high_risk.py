"""RF-LPV-006: SaaS grant with a high-risk scope.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext, saas_of
from ringfence.posture.scopes import high_risk


@check(
    id="RF-LPV-006",
    title="SaaS grant with a high-risk scope",
    area="least_privilege",
    severity=Severity.HIGH,
    resource="saas_grant",
    requires=("saas",),
    rationale="A third-party app holding mail/files/messages/admin scope can read or change "
    "everything its user can.",
    remediation="Review the app; revoke the grant through the connector if not needed.",
)
def saas_grant_high_risk(ctx: PostureContext) -> Iterator[Failure]:
    for g in saas_of(ctx).grants:
        bad = high_risk(g.scopes, g.vendor)
        if bad:
            yield fail(
                "saas_grant",
                f"{g.vendor}:{g.external_id}",
                f"{g.app_name} holds {', '.join(bad)} in {g.vendor}"
                + (f" for {g.principal}" if g.principal else " tenant-wide"),
                scopes=bad,
                app=g.app_name,
            )
