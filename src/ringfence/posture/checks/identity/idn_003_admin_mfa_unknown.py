"""RF-IDN-003: Administrator MFA state unknown.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext, saas_of


@check(
    id="RF-IDN-003",
    title="Administrator MFA state unknown",
    area="identity",
    severity=Severity.LOW,
    resource="saas_account",
    requires=("saas",),
    rationale="If the connector cannot read an admin's MFA state, a missing factor goes unnoticed.",
    remediation="Grant the connector the read permission that exposes MFA state "
    "(see docs/connectors.md).",
)
def admin_mfa_unknown(ctx: PostureContext) -> Iterator[Failure]:
    for p in saas_of(ctx).people:
        if p.active and p.is_admin and p.mfa_enabled is None:
            yield fail(
                "saas_account",
                f"{p.vendor}:{p.login}",
                f"MFA state of {p.vendor} admin {p.login} cannot be read",
            )
