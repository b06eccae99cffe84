"""RF-IDN-016: Ringfence console operator (admin, security analyst, or a role the deployment
requires MFA of: ``RINGFENCE_IDENTITY_MFA_REQUIRED_ROLES``) without MFA.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.checks.identity._common import _console
from ringfence.posture.checks.identity._console_mfa import must_use_mfa, without_mfa
from ringfence.posture.context import PostureContext


@check(
    id="RF-IDN-016",
    title="Ringfence console operator without MFA",
    area="identity",
    severity=Severity.HIGH,
    resource="console_user",
    requires=("console_users",),
    rationale="A security analyst changes the perimeter (inventory, quarantines, lifecycle, "
    "incident playbooks) like an admin does; one stolen password must not be enough.",
    remediation="Enrol TOTP for the account, or sign in only through an identity provider "
    "that enforces MFA (and remove the local password); keep the role in "
    "RINGFENCE_IDENTITY_MFA_REQUIRED_ROLES (its default since session 13; docs/identity.md).",
)
def console_operator_without_mfa(ctx: PostureContext) -> Iterator[Failure]:
    covered = must_use_mfa(ctx)
    enforced = ctx.policy.mfa_required_roles | {"admin"}  # admin always (identity's rule)
    for u, how in without_mfa(_console(ctx)):
        roles = sorted(covered & set(u.roles))
        if roles:
            mfa_enforced = bool(enforced & set(u.roles))
            note = (
                ""
                if mfa_enforced
                else "; sign-in does not require MFA of this role "
                "(RINGFENCE_IDENTITY_MFA_REQUIRED_ROLES)"
            )
            yield fail(
                "console_user",
                u.username,
                f"console user {u.username} ({', '.join(roles)}) {how}{note}",
                roles=sorted(u.roles),
                local_password=u.local_password,
                sso=u.sso,
                mfa_enforced=mfa_enforced,
            )
