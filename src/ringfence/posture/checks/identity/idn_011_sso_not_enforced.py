"""RF-IDN-011: Sanctioned app not behind SSO.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext, saas_of


@check(
    id="RF-IDN-011",
    title="Sanctioned app not behind SSO",
    area="identity",
    severity=Severity.MEDIUM,
    resource="app",
    requires=("saas",),
    rationale="Apps outside the IdP keep local passwords and escape central offboarding.",
    remediation="Add the app to the IdP (SAML/OIDC) and disable local login.",
)
def sso_not_enforced(ctx: PostureContext) -> Iterator[Failure]:
    saas = saas_of(ctx)
    if "okta" not in saas.vendors_pulled:
        return
    idp = {a.name.lower() for a in saas.apps if a.vendor == "okta" and a.enabled}
    for a in ctx.apps:
        if (
            a.sanctioned
            and a.category not in {"identity_provider", "internal_product"}
            and a.name.lower() not in idp
        ):
            yield fail("app", a.name, f"sanctioned app {a.name} is not an app in the IdP")
