"""RF-VND-001: Vendor not assessed in 12 months.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.checks.vendors._common import _vendors_in_use
from ringfence.posture.context import PostureContext


@check(
    id="RF-VND-001",
    title="Vendor not assessed in 12 months",
    area="vendors",
    severity=Severity.HIGH,
    resource="vendor",
    requires=("vendors",),
    rationale="Vendor controls drift; an assessment older than a year says little.",
    remediation="Send the vendor a questionnaire (`ringfence vendors assess`).",
)
def no_recent_assessment(ctx: PostureContext) -> Iterator[Failure]:
    limit = ctx.policy.assessment_max_age_days
    for v, _apps in _vendors_in_use(ctx):
        age = ctx.days_since(v.last_assessment_at)
        if age is None or age > limit:
            when = "never" if age is None else f"{int(age)} days ago"
            yield fail("vendor", v.name, f"vendor {v.name} last assessed {when}")
