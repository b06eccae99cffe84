"""RF-CRD-011: Live credential of a revoked or quarantined integration.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-CRD-011",
    title="Live credential of a revoked or quarantined integration",
    area="credentials",
    severity=Severity.MEDIUM,
    resource="credential",
    rationale="Stopping an integration at the gateway does not stop its credential at the "
    "SaaS; it stays usable around the gateway.",
    remediation="Revoke the credential at the SaaS and expire it here.",
)
def credential_of_stopped_integration(ctx: PostureContext) -> Iterator[Failure]:
    ints = ctx.integrations_by_id
    for c in ctx.credentials:
        integ = ints.get(c.integration_id) if c.integration_id else None
        if (
            integ is not None
            and integ.status != "active"
            and (c.expires_at is None or c.expires_at > ctx.now)
        ):
            yield fail(
                "credential",
                c.name,
                f"credential {c.name} of {integ.status} integration {integ.name} is still valid",
            )
