"""RF-IDN-014: Ringfence console administrator without MFA.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.checks.identity._common import _console
from ringfence.posture.context import PostureContext


@check(
    id="RF-IDN-014",
    title="Ringfence console administrator without MFA",
    area="identity",
    severity=Severity.HIGH,
    resource="console_user",
    requires=("console_users",),
    rationale="Whoever holds a Ringfence admin account can open every door in the perimeter "
    "(routes, credentials, quarantines); a password alone is not enough.",
    remediation="Enrol TOTP for the account or make it SSO-only (remove the local password).",
)
def console_admin_without_mfa(ctx: PostureContext) -> Iterator[Failure]:
    for u in _console(ctx):
        if not u.disabled and "admin" in u.roles and u.local_password and not u.mfa:
            yield fail(
                "console_user",
                u.username,
                f"console admin {u.username} can sign in with a password and has no MFA",
            )
