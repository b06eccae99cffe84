"""RF-LPV-005: High-risk OAuth scope on a declared integration.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.checks.privilege._common import _VENDOR_BY_CATEGORY
from ringfence.posture.context import PostureContext
from ringfence.posture.scopes import high_risk


@check(
    id="RF-LPV-005",
    title="High-risk OAuth scope on a declared integration",
    area="least_privilege",
    severity=Severity.HIGH,
    resource="integration",
    rationale="Scopes over all mail, files, messages, code or the directory make the "
    "integration a tenant-wide data exfiltration path.",
    remediation="Narrow the scope (e.g. per-file, read-only) or route the integration "
    "through the gateway with DLP.",
)
def declared_high_risk(ctx: PostureContext) -> Iterator[Failure]:
    apps = ctx.apps_by_id
    for i in ctx.integrations:
        app = apps.get(i.destination_app_id)
        vendor = _VENDOR_BY_CATEGORY.get(app.category) if app else None
        bad = high_risk(i.scopes, vendor)
        if bad:
            yield fail(
                "integration",
                i.name,
                f"{i.name} holds high-risk scope(s) {', '.join(bad)}",
                scopes=bad,
            )
