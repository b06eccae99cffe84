"""RF-CRD-012: SaaS token with admin scope and no expiry.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext, saas_of
from ringfence.posture.scopes import is_admin_scope, is_high_risk


@check(
    id="RF-CRD-012",
    title="SaaS token with admin scope and no expiry",
    area="credentials",
    severity=Severity.HIGH,
    resource="saas_grant",
    requires=("saas",),
    rationale="A non-expiring token with administrative scope is a standing skeleton key.",
    remediation="Replace it with an expiring, narrowly scoped token (e.g. fine-grained PAT).",
)
def saas_token_no_expiry(ctx: PostureContext) -> Iterator[Failure]:
    for g in saas_of(ctx).grants:
        risky = [s for s in g.scopes if is_admin_scope(s) or is_high_risk(s, g.vendor)]
        if g.expires_at is None and g.last_used_at is not None and risky:
            yield fail(
                "saas_grant",
                f"{g.vendor}:{g.external_id}",
                f"{g.vendor} token of {g.principal} never expires and has {', '.join(risky)}",
                scopes=risky,
            )
