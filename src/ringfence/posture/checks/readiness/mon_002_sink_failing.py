"""RF-MON-002: SIEM sink failing.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.checks.readiness._common import _mon
from ringfence.posture.context import PostureContext


@check(
    id="RF-MON-002",
    title="SIEM sink failing",
    area="monitoring",
    severity=Severity.HIGH,
    resource="siem_sink",
    requires=("monitoring",),
    rationale="Alerts that never reach the SIEM are never triaged.",
    remediation="Fix the sink's endpoint or credentials; replay its outbox.",
)
def sink_failing(ctx: PostureContext) -> Iterator[Failure]:
    for name, failing in sorted(_mon(ctx).sinks_failing.items()):
        if failing:
            yield fail(
                "siem_sink",
                name,
                f"SIEM sink {name} is failing: alerts undelivered after 3 attempts, or due "
                "for over 15 minutes (is the deliverer running?)",
            )
