"""RF-IRR-002: No incident drill in 90 days.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.checks.readiness._common import _ir
from ringfence.posture.context import PostureContext


@check(
    id="RF-IRR-002",
    title="No incident drill in 90 days",
    area="readiness",
    severity=Severity.MEDIUM,
    resource="organisation",
    requires=("readiness",),
    rationale="Untested playbooks fail in the incident; drills measure time to contain.",
    remediation="Run a drill (`ringfence respond drill`).",
)
def no_recent_drill(ctx: PostureContext) -> Iterator[Failure]:
    age = ctx.days_since(_ir(ctx).last_drill_at)
    if age is None or age > ctx.policy.drill_max_age_days:
        when = "never" if age is None else f"{int(age)} days ago"
        yield fail("organisation", "drills", f"last incident drill: {when}")
