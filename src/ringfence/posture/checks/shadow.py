"""Shadow-IT checks: unsanctioned apps in use, SaaS apps and grants nobody declared."""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext, saas_of
from ringfence.posture.discovery import declared_match


@check(
    id="RF-SHD-001",
    title="Unsanctioned app in use",
    area="shadow_it",
    severity=Severity.MEDIUM,
    resource="app",
    rationale="Apps marked unsanctioned but connected by integrations are known shadow IT.",
    remediation="Sanction the app after a vendor review, or remove its integrations.",
)
def unsanctioned_in_use(ctx: PostureContext) -> Iterator[Failure]:
    by_app = ctx.integrations_by_app
    for a in ctx.apps:
        if not a.sanctioned and by_app.get(a.id):
            names = sorted({i.name for i in by_app[a.id]})
            yield fail("app", a.name, f"unsanctioned {a.name} is used by {', '.join(names)}")


@check(
    id="RF-SHD-002",
    title="Undeclared third-party app in a SaaS tenant",
    area="shadow_it",
    severity=Severity.MEDIUM,
    resource="saas_app",
    requires=("saas",),
    rationale="Apps installed in a tenant without being declared escape review and offboarding.",
    remediation="`ringfence adopt app NAME` after review, or suspend it via the connector.",
)
def undeclared_saas_app(ctx: PostureContext) -> Iterator[Failure]:
    for a in saas_of(ctx).apps:
        if a.enabled and declared_match(ctx, a.name, a.client_id) is None:
            yield fail(
                "saas_app",
                f"{a.vendor}:{a.name}",
                f"{a.name} is installed in {a.vendor} but not declared",
                client_id=a.client_id,
            )


@check(
    id="RF-SHD-003",
    title="Undeclared OAuth grant",
    area="shadow_it",
    severity=Severity.MEDIUM,
    resource="saas_grant",
    requires=("saas",),
    rationale="A grant to an app nobody declared is an integration outside the inventory.",
    remediation="`ringfence adopt integration NAME` after review, or revoke the grant.",
)
def undeclared_grant(ctx: PostureContext) -> Iterator[Failure]:
    for g in saas_of(ctx).grants:
        if g.client_id is None:
            continue  # personal tokens are covered by the credential checks
        if declared_match(ctx, g.app_name, g.client_id) is None:
            yield fail(
                "saas_grant",
                f"{g.vendor}:{g.external_id}",
                f"undeclared grant: "
                f"{g.app_name} holds {', '.join(g.scopes) or 'no scopes'} in {g.vendor}",
                app=g.app_name,
                scopes=list(g.scopes),
            )


@check(
    id="RF-SHD-004",
    title="App from an unverified publisher",
    area="shadow_it",
    severity=Severity.LOW,
    resource="saas_app",
    requires=("saas",),
    rationale="Unverified publishers are a common vehicle for consent phishing.",
    remediation="Block user consent to unverified apps; review this one.",
)
def unverified_publisher(ctx: PostureContext) -> Iterator[Failure]:
    for a in saas_of(ctx).apps:
        if a.enabled and a.verified is False:
            yield fail(
                "saas_app",
                f"{a.vendor}:{a.name}",
                f"{a.name} in {a.vendor} comes from an unverified publisher",
            )


@check(
    id="RF-SHD-005",
    title="Declared integration not found in its SaaS tenant",
    area="shadow_it",
    severity=Severity.INFO,
    resource="integration",
    requires=("saas",),
    rationale="A declared client id that no connector sees may be stale inventory.",
    remediation="Check the client id, or remove the integration from ringfence.yaml.",
)
def declared_not_seen(ctx: PostureContext) -> Iterator[Failure]:
    saas = saas_of(ctx)
    seen = {a.client_id for a in saas.apps if a.client_id} | {
        g.client_id for g in saas.grants if g.client_id
    }
    apps = ctx.apps_by_id
    vendor_by_category = {"chat": "slack", "code_hosting": "github"}
    for i in ctx.integrations:
        dest = apps.get(i.destination_app_id)
        vendor = vendor_by_category.get(dest.category) if dest else None
        if vendor in saas.vendors_pulled and i.client_id and i.client_id not in seen:
            yield fail(
                "integration", i.name, f"{i.name} (client {i.client_id}) is not seen in {vendor}"
            )
