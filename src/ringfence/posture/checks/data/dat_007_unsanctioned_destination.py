"""RF-DAT-007: Unsanctioned app receives company data.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-DAT-007",
    title="Unsanctioned app receives company data",
    area="data",
    severity=Severity.HIGH,
    resource="integration",
    rationale="Unsanctioned apps have no vendor review, DPA or offboarding.",
    remediation="Stop the integration or get the app sanctioned after a vendor review.",
)
def unsanctioned_destination(ctx: PostureContext) -> Iterator[Failure]:
    apps = ctx.apps_by_id
    for i in ctx.integrations:
        dest = apps.get(i.destination_app_id)
        if dest is not None and not dest.sanctioned and i.status == "active":
            yield fail("integration", i.name, f"{i.name} sends data to unsanctioned {dest.name}")
