"""RF-CRD-005: Expired credential on an active integration.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-CRD-005",
    title="Expired credential on an active integration",
    area="credentials",
    severity=Severity.HIGH,
    resource="credential",
    rationale="An expired credential means the integration is broken or someone swapped in "
    "an untracked secret.",
    remediation="Rotate the credential and update the reference.",
)
def expired(ctx: PostureContext) -> Iterator[Failure]:
    ints = ctx.integrations_by_id
    for c in ctx.credentials:
        integ = ints.get(c.integration_id) if c.integration_id else None
        if (
            c.expires_at is not None
            and c.expires_at < ctx.now
            and (integ is None or integ.status == "active")
        ):
            yield fail(
                "credential",
                c.name,
                f"credential {c.name} expired on {c.expires_at.date().isoformat()}",
            )
