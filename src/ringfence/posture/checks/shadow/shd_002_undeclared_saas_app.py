"""RF-SHD-002: Undeclared third-party app in a SaaS tenant.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext, saas_of
from ringfence.posture.discovery import declared_match


@check(
    id="RF-SHD-002",
    title="Undeclared third-party app in a SaaS tenant",
    area="shadow_it",
    severity=Severity.MEDIUM,
    resource="saas_app",
    requires=("saas",),
    rationale="Apps installed in a tenant without being declared escape review and offboarding.",
    remediation="`ringfence adopt app NAME` after review, or suspend it via the connector.",
)
def undeclared_saas_app(ctx: PostureContext) -> Iterator[Failure]:
    for a in saas_of(ctx).apps:
        if a.enabled and declared_match(ctx, a.name, a.client_id) is None:
            yield fail(
                "saas_app",
                f"{a.vendor}:{a.name}",
                f"{a.name} is installed in {a.vendor} but not declared",
                client_id=a.client_id,
            )
