"""RF-IDN-002: SaaS user without MFA.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext, saas_of


@check(
    id="RF-IDN-002",
    title="SaaS user without MFA",
    area="identity",
    severity=Severity.MEDIUM,
    resource="saas_account",
    requires=("saas",),
    rationale="Accounts without MFA are the usual entry point for consent phishing and "
    "OAuth grants to malicious apps.",
    remediation="Require MFA for all users through the IdP or the tenant's security policy.",
)
def user_without_mfa(ctx: PostureContext) -> Iterator[Failure]:
    for p in saas_of(ctx).people:
        if p.active and not p.is_admin and p.mfa_enabled is False:
            yield fail(
                "saas_account",
                f"{p.vendor}:{p.login}",
                f"{p.vendor} user {p.login} has no MFA factor enrolled",
                vendor=p.vendor,
            )
