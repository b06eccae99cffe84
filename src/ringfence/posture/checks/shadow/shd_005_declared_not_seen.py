"""RF-SHD-005: Declared integration not found in its SaaS tenant.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext, saas_of


@check(
    id="RF-SHD-005",
    title="Declared integration not found in its SaaS tenant",
    area="shadow_it",
    severity=Severity.INFO,
    resource="integration",
    requires=("saas",),
    rationale="A declared client id that no connector sees may be stale inventory.",
    remediation="Check the client id, or remove the integration from ringfence.yaml.",
)
def declared_not_seen(ctx: PostureContext) -> Iterator[Failure]:
    saas = saas_of(ctx)
    seen = {a.client_id for a in saas.apps if a.client_id} | {
        g.client_id for g in saas.grants if g.client_id
    }
    apps = ctx.apps_by_id
    vendor_by_category = {"chat": "slack", "code_hosting": "github"}
    for i in ctx.integrations:
        dest = apps.get(i.destination_app_id)
        vendor = vendor_by_category.get(dest.category) if dest else None
        if vendor in saas.vendors_pulled and i.client_id and i.client_id not in seen:
            yield fail(
                "integration", i.name, f"{i.name} (client {i.client_id}) is not seen in {vendor}"
            )
