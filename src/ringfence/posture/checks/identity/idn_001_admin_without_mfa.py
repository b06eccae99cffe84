"""RF-IDN-001: SaaS administrator without MFA.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext, saas_of


@check(
    id="RF-IDN-001",
    title="SaaS administrator without MFA",
    area="identity",
    severity=Severity.HIGH,
    resource="saas_account",
    requires=("saas",),
    rationale="An administrator account protected by a password alone is the most direct "
    "path to a tenant-wide compromise (phishing, credential stuffing).",
    remediation="Enforce MFA (phishing-resistant where possible) for every admin in the "
    "tenant; block admin sign-in until a factor is enrolled.",
    references=("https://www.cisa.gov/MFA",),
)
def admin_without_mfa(ctx: PostureContext) -> Iterator[Failure]:
    for p in saas_of(ctx).people:
        if p.active and p.is_admin and p.mfa_enabled is False:
            yield fail(
                "saas_account",
                f"{p.vendor}:{p.login}",
                f"{p.vendor} admin {p.login} has no MFA factor enrolled",
                vendor=p.vendor,
                login=p.login,
            )
