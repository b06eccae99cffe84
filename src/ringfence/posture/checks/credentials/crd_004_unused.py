"""RF-CRD-004: Credential unused for 90 days.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-CRD-004",
    title="Credential unused for 90 days",
    area="credentials",
    severity=Severity.MEDIUM,
    resource="credential",
    rationale="Unused credentials are pure risk: nothing breaks when they are revoked.",
    remediation="Revoke the credential and delete it from the vault.",
)
def unused(ctx: PostureContext) -> Iterator[Failure]:
    limit = ctx.policy.credential_unused_days
    for c in ctx.credentials:
        idle = ctx.days_since(c.last_used_at or c.created_at)
        if idle is not None and idle > limit:
            yield fail(
                "credential",
                c.name,
                f"credential {c.name} unused for {int(idle)} days",
                idle_days=int(idle),
            )
