"""RF-MON-003: SaaS tenant without an audit source.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.checks.readiness._common import _AUDIT_SOURCES, _mon
from ringfence.posture.context import PostureContext


@check(
    id="RF-MON-003",
    title="SaaS tenant without an audit source",
    area="monitoring",
    severity=Severity.MEDIUM,
    resource="saas_tenant",
    requires=("monitoring", "saas"),
    rationale="A tenant whose audit log nobody collects cannot be investigated.",
    remediation="Enable audit-log collection for the tenant's connector.",
)
def tenant_without_source(ctx: PostureContext) -> Iterator[Failure]:
    sources = {s.split(":")[0] for s in _mon(ctx).sources}
    assert ctx.saas is not None
    for vendor in sorted(ctx.saas.vendors_pulled):
        if not sources & _AUDIT_SOURCES.get(vendor, {vendor}):
            yield fail("saas_tenant", vendor, f"no audit-log source collects {vendor}")
