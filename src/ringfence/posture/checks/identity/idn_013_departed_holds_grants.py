"""RF-IDN-013: Departed person still holds OAuth grants.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext, saas_of


@check(
    id="RF-IDN-013",
    title="Departed person still holds OAuth grants",
    area="identity",
    severity=Severity.HIGH,
    resource="saas_grant",
    requires=("saas",),
    rationale="Grants and tokens survive account deactivation in several SaaS products.",
    remediation="Revoke the grants (ringfence can do it through the connector).",
)
def departed_holds_grants(ctx: PostureContext) -> Iterator[Failure]:
    saas = saas_of(ctx)
    accounts = {(p.vendor, k.lower()): p for p in saas.people for k in (p.login, p.external_id)}
    pulled_people = {p.vendor for p in saas.people}
    for g in saas.grants:
        if not g.principal or g.tenant_wide:
            continue
        account = accounts.get((g.vendor, g.principal.lower()))
        email = (account.email if account and account.email else g.principal).lower()
        person = ctx.people_by_email.get(email)
        departed = (person is not None and not person.active) or (
            account is not None and not account.active
        )
        orphan = account is None and g.vendor in pulled_people
        if departed or orphan:
            who = f"departed {email}" if departed else f"{g.principal} (no longer a member)"
            yield fail(
                "saas_grant",
                f"{g.vendor}:{g.external_id}",
                f"{who} still holds a {g.vendor} grant to {g.app_name} "
                f"({', '.join(g.scopes) or 'no scopes'})",
                scopes=list(g.scopes),
            )
