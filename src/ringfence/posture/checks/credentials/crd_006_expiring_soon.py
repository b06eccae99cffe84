"""RF-CRD-006: Credential expiring soon.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext


@check(
    id="RF-CRD-006",
    title="Credential expiring soon",
    area="credentials",
    severity=Severity.LOW,
    resource="credential",
    rationale="Rotating before expiry avoids an outage that tempts people to bypass controls.",
    remediation="Rotate the credential before it expires.",
)
def expiring_soon(ctx: PostureContext) -> Iterator[Failure]:
    window = ctx.policy.credential_expiry_warning_days
    for c in ctx.credentials:
        if c.expires_at is not None:
            left = (c.expires_at - ctx.now).total_seconds() / 86400
            if 0 <= left <= window:
                yield fail("credential", c.name, f"credential {c.name} expires in {int(left)} days")
