"""RF-IDN-017: Ringfence console user (auditor, integration owner) without MFA — unless the
deployment requires MFA of their role (then RF-IDN-016 reports them).

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.checks.identity._common import _console
from ringfence.posture.checks.identity._console_mfa import must_use_mfa, without_mfa
from ringfence.posture.context import PostureContext


@check(
    id="RF-IDN-017",
    title="Ringfence console user without MFA",
    area="identity",
    severity=Severity.MEDIUM,
    resource="console_user",
    requires=("console_users",),
    rationale="An auditor reads the whole estate and the audit log; an integration owner "
    "decides access reviews and acts on their integrations. A password alone protects both.",
    remediation="Enrol TOTP for the account, or sign in only through an identity provider "
    "that enforces MFA (and remove the local password).",
)
def console_user_without_mfa(ctx: PostureContext) -> Iterator[Failure]:
    covered = must_use_mfa(ctx)  # RF-IDN-016's
    for u, how in without_mfa(_console(ctx)):
        if not covered & set(u.roles):
            yield fail(
                "console_user",
                u.username,
                f"console user {u.username} ({', '.join(sorted(u.roles))}) {how}",
                roles=sorted(u.roles),
                local_password=u.local_password,
                sso=u.sso,
            )
