"""RF-DAT-006: Retention beyond policy maximum.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-DAT-006",
    title="Retention beyond policy maximum",
    area="data",
    severity=Severity.MEDIUM,
    resource="app",
    rationale="Keeping data longer than policy allows is a retention breach.",
    remediation="Shorten the app's retention to the policy maximum and purge older data.",
)
def retention_breach(ctx: PostureContext) -> Iterator[Failure]:
    for a in ctx.apps:
        over = []
        for cls, days in a.retention_days:
            limit = ctx.policy.max_retention(cls)
            if limit is not None and days > limit:
                over.append(f"{cls} {days}d > {limit}d")
        if over:
            yield fail("app", a.name, f"{a.name} retains {'; '.join(over)}", breaches=over)
