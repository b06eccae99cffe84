"""RF-CRD-001: Credential older than policy.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-CRD-001",
    title="Credential older than policy",
    area="credentials",
    severity=Severity.MEDIUM,
    resource="credential",
    rationale="The longer a secret lives, the likelier it has leaked (logs, laptops, "
    "ex-employees) without anyone knowing.",
    remediation="Rotate the credential (`ringfence vault put` + update the upstream) and "
    "record rotated_at.",
)
def older_than_policy(ctx: PostureContext) -> Iterator[Failure]:
    limit = ctx.policy.credential_max_age_days
    for c in ctx.credentials:
        age = ctx.days_since(c.rotated_at or c.created_at)
        if age is not None and age > limit:
            yield fail(
                "credential",
                c.name,
                f"credential {c.name} is {int(age)} days old (policy {limit})",
                age_days=int(age),
            )
