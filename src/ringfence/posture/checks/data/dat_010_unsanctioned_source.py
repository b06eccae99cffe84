"""RF-DAT-010: Data leaves an unsanctioned app.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-DAT-010",
    title="Data leaves an unsanctioned app",
    area="data",
    severity=Severity.MEDIUM,
    resource="integration",
    rationale="Data sourced from an unsanctioned app has unknown provenance and quality.",
    remediation="Sanction the source app or stop the integration.",
)
def unsanctioned_source(ctx: PostureContext) -> Iterator[Failure]:
    apps = ctx.apps_by_id
    for i in ctx.integrations:
        src = apps.get(i.source_app_id) if i.source_app_id else None
        if src is not None and not src.sanctioned and i.status == "active":
            yield fail("integration", i.name, f"{i.name} reads from unsanctioned {src.name}")
