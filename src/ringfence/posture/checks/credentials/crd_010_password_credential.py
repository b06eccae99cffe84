"""RF-CRD-010: Password used as an integration credential.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-CRD-010",
    title="Password used as an integration credential",
    area="credentials",
    severity=Severity.MEDIUM,
    resource="credential",
    rationale="Passwords of (shared) user accounts cannot be scoped and usually bypass MFA.",
    remediation="Switch the integration to OAuth client credentials or a scoped API key.",
)
def password_credential(ctx: PostureContext) -> Iterator[Failure]:
    for c in ctx.credentials:
        if c.kind == "password":
            yield fail("credential", c.name, f"integration credential {c.name} is a password")
