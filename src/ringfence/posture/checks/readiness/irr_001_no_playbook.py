"""RF-IRR-001: No playbook for an integration class.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.checks.readiness._common import _ir
from ringfence.posture.context import PostureContext


@check(
    id="RF-IRR-001",
    title="No playbook for an integration class",
    area="readiness",
    severity=Severity.MEDIUM,
    resource="integration_class",
    requires=("readiness",),
    rationale="Without a playbook, containing a compromised integration is improvised.",
    remediation="Write a playbook for the class (quarantine, revoke, rotate, notify).",
)
def no_playbook(ctx: PostureContext) -> Iterator[Failure]:
    covered = _ir(ctx).playbook_classes
    if "*" in covered:
        return
    for kind in sorted({i.kind for i in ctx.integrations}):
        if kind not in covered:
            yield fail(
                "integration_class", kind, f"no incident playbook covers {kind} integrations"
            )
