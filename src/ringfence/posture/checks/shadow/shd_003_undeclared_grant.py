"""RF-SHD-003: Undeclared OAuth grant.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext, saas_of
from ringfence.posture.discovery import declared_match


@check(
    id="RF-SHD-003",
    title="Undeclared OAuth grant",
    area="shadow_it",
    severity=Severity.MEDIUM,
    resource="saas_grant",
    requires=("saas",),
    rationale="A grant to an app nobody declared is an integration outside the inventory.",
    remediation="`ringfence adopt integration NAME` after review, or revoke the grant.",
)
def undeclared_grant(ctx: PostureContext) -> Iterator[Failure]:
    for g in saas_of(ctx).grants:
        if g.client_id is None:
            continue  # personal tokens are covered by the credential checks
        if declared_match(ctx, g.app_name, g.client_id) is None:
            yield fail(
                "saas_grant",
                f"{g.vendor}:{g.external_id}",
                f"undeclared grant: "
                f"{g.app_name} holds {', '.join(g.scopes) or 'no scopes'} in {g.vendor}",
                app=g.app_name,
                scopes=list(g.scopes),
            )
