"""RF-SHD-001: Unsanctioned app in use.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-SHD-001",
    title="Unsanctioned app in use",
    area="shadow_it",
    severity=Severity.MEDIUM,
    resource="app",
    rationale="Apps marked unsanctioned but connected by integrations are known shadow IT.",
    remediation="Sanction the app after a vendor review, or remove its integrations.",
)
def unsanctioned_in_use(ctx: PostureContext) -> Iterator[Failure]:
    by_app = ctx.integrations_by_app
    for a in ctx.apps:
        if not a.sanctioned and by_app.get(a.id):
            names = sorted({i.name for i in by_app[a.id]})
            yield fail("app", a.name, f"unsanctioned {a.name} is used by {', '.join(names)}")
