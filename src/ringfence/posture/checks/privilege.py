"""Least-privilege checks: unused scopes (from gateway traffic), wildcard/admin/high-risk
scopes on declared integrations and on OAuth grants found in the SaaS tenants."""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext, saas_of
from ringfence.posture.scopes import high_risk, is_admin_scope, is_wildcard_scope

_VENDOR_BY_CATEGORY = {
    "chat": "slack",
    "code_hosting": "github",
    "productivity": "google_workspace",
    "identity_provider": "okta",
}


@check(
    id="RF-LPV-001",
    title="Granted scope unused by real traffic",
    area="least_privilege",
    severity=Severity.MEDIUM,
    resource="integration",
    requires=("usage",),
    rationale="Scopes an integration never uses only add blast radius when it is compromised.",
    remediation="Apply `ringfence posture recommend` (minimal scope set from observed "
    "traffic) to ringfence.yaml and reissue the credential.",
)
def scope_unused(ctx: PostureContext) -> Iterator[Failure]:
    usage = ctx.usage or {}
    horizon = ctx.policy.unused_scope_days
    for i in ctx.integrations:
        used = usage.get(i.name)
        if used is None or not i.scopes:
            continue
        unused = []
        for s in i.scopes:
            u = used.scopes.get(s)
            age = ctx.days_since(u.last_seen) if u else None
            if u is None or u.count == 0 or (age is not None and age > horizon):
                unused.append(s)
        if unused:
            yield fail(
                "integration",
                i.name,
                f"{i.name} did not use {', '.join(unused)} in {horizon} days",
                unused=unused,
                used=sorted(s for s in i.scopes if s not in unused),
            )


@check(
    id="RF-LPV-002",
    title="Integration without traffic for 90 days",
    area="least_privilege",
    severity=Severity.LOW,
    resource="integration",
    requires=("usage",),
    rationale="An idle integration is a door nobody walks through but anybody could.",
    remediation="Quarantine it at the gateway, then revoke it if nobody objects.",
)
def integration_idle(ctx: PostureContext) -> Iterator[Failure]:
    usage = ctx.usage or {}
    limit = ctx.policy.integration_unused_days
    for i in ctx.integrations:
        if i.status != "active":
            continue
        u = usage.get(i.name)
        idle = ctx.days_since(u.last_seen if u else i.created_at)
        if idle is not None and idle > limit:
            yield fail(
                "integration", i.name, f"no gateway traffic from {i.name} for {int(idle)} days"
            )


@check(
    id="RF-LPV-003",
    title="Wildcard scope",
    area="least_privilege",
    severity=Severity.HIGH,
    resource="integration",
    rationale="Wildcard scopes grant everything the API offers, today and tomorrow.",
    remediation="Replace the wildcard with the explicit scopes the integration needs.",
)
def wildcard_scope(ctx: PostureContext) -> Iterator[Failure]:
    for i in ctx.integrations:
        bad = [s for s in i.scopes if is_wildcard_scope(s)]
        if bad:
            yield fail(
                "integration",
                i.name,
                f"{i.name} holds wildcard scope(s) {', '.join(bad)}",
                scopes=bad,
            )


@check(
    id="RF-LPV-004",
    title="Administrative scope on an integration",
    area="least_privilege",
    severity=Severity.MEDIUM,
    resource="integration",
    rationale="Admin scopes let an integration change the tenant's security settings.",
    remediation="Use a narrower scope, or document why admin is needed and accept the risk.",
)
def admin_scope(ctx: PostureContext) -> Iterator[Failure]:
    for i in ctx.integrations:
        bad = [s for s in i.scopes if is_admin_scope(s)]
        if bad:
            yield fail(
                "integration", i.name, f"{i.name} holds admin scope(s) {', '.join(bad)}", scopes=bad
            )


@check(
    id="RF-LPV-005",
    title="High-risk OAuth scope on a declared integration",
    area="least_privilege",
    severity=Severity.HIGH,
    resource="integration",
    rationale="Scopes over all mail, files, messages, code or the directory make the "
    "integration a tenant-wide data exfiltration path.",
    remediation="Narrow the scope (e.g. per-file, read-only) or route the integration "
    "through the gateway with DLP.",
)
def declared_high_risk(ctx: PostureContext) -> Iterator[Failure]:
    apps = ctx.apps_by_id
    for i in ctx.integrations:
        app = apps.get(i.destination_app_id)
        vendor = _VENDOR_BY_CATEGORY.get(app.category) if app else None
        bad = high_risk(i.scopes, vendor)
        if bad:
            yield fail(
                "integration",
                i.name,
                f"{i.name} holds high-risk scope(s) {', '.join(bad)}",
                scopes=bad,
            )


@check(
    id="RF-LPV-006",
    title="SaaS grant with a high-risk scope",
    area="least_privilege",
    severity=Severity.HIGH,
    resource="saas_grant",
    requires=("saas",),
    rationale="A third-party app holding mail/files/messages/admin scope can read or change "
    "everything its user can.",
    remediation="Review the app; revoke the grant through the connector if not needed.",
)
def saas_grant_high_risk(ctx: PostureContext) -> Iterator[Failure]:
    for g in saas_of(ctx).grants:
        bad = high_risk(g.scopes, g.vendor)
        if bad:
            yield fail(
                "saas_grant",
                f"{g.vendor}:{g.external_id}",
                f"{g.app_name} holds {', '.join(bad)} in {g.vendor}"
                + (f" for {g.principal}" if g.principal else " tenant-wide"),
                scopes=bad,
                app=g.app_name,
            )


@check(
    id="RF-LPV-007",
    title="Tenant-wide consent to an app",
    area="least_privilege",
    severity=Severity.HIGH,
    resource="saas_grant",
    requires=("saas",),
    rationale="Admin consent for all users lets the app act as anyone in the tenant.",
    remediation="Replace tenant-wide consent with per-user consent or remove the grant.",
)
def tenant_wide_consent(ctx: PostureContext) -> Iterator[Failure]:
    for g in saas_of(ctx).grants:
        if g.tenant_wide and high_risk(g.scopes, g.vendor):
            yield fail(
                "saas_grant",
                f"{g.vendor}:{g.external_id}",
                f"{g.app_name} has tenant-wide consent to {', '.join(g.scopes)}",
            )


@check(
    id="RF-LPV-008",
    title="Installed app with write or admin permissions",
    area="least_privilege",
    severity=Severity.MEDIUM,
    resource="saas_app",
    requires=("saas",),
    rationale="An installed app's permissions apply to every repository/workspace it is "
    "installed on.",
    remediation="Restrict the installation to the repositories/channels it needs and drop "
    "write/admin permissions.",
)
def saas_app_broad(ctx: PostureContext) -> Iterator[Failure]:
    for a in saas_of(ctx).apps:
        bad = [
            s
            for s in a.scopes
            if s.endswith(":write")
            and s.split(":")[0]
            in {
                "administration",
                "contents",
                "members",
                "secrets",
                "organization_administration",
                "workflows",
            }
        ]
        if a.enabled and bad:
            yield fail(
                "saas_app",
                f"{a.vendor}:{a.name}",
                f"{a.vendor} app {a.name} can {', '.join(bad)}",
                permissions=bad,
            )


@check(
    id="RF-LPV-009",
    title="Integration with too many scopes",
    area="least_privilege",
    severity=Severity.LOW,
    resource="integration",
    rationale="Long scope lists are rarely all needed and hard to review.",
    remediation="Review the scope list against observed traffic and trim it.",
)
def too_many_scopes(ctx: PostureContext) -> Iterator[Failure]:
    limit = ctx.policy.max_scopes_per_integration
    for i in ctx.integrations:
        if len(i.scopes) > limit:
            yield fail(
                "integration", i.name, f"{i.name} holds {len(i.scopes)} scopes (policy max {limit})"
            )


@check(
    id="RF-LPV-010",
    title="Integration with undeclared scopes",
    area="least_privilege",
    severity=Severity.LOW,
    resource="integration",
    rationale="Without a declared scope list, least privilege cannot be reviewed or "
    "enforced at the gateway.",
    remediation="Declare the integration's scopes in ringfence.yaml.",
)
def no_scopes(ctx: PostureContext) -> Iterator[Failure]:
    for i in ctx.integrations:
        if not i.scopes and i.status == "active":
            yield fail("integration", i.name, f"{i.name} declares no scopes")


@check(
    id="RF-LPV-011",
    title="Traffic uses a scope that is not declared",
    area="least_privilege",
    severity=Severity.MEDIUM,
    resource="integration",
    requires=("usage",),
    rationale="Observed use of an undeclared scope means the declared inventory is wrong "
    "or the integration obtained more than it was granted.",
    remediation="Investigate; declare the scope if legitimate, revoke it otherwise.",
)
def undeclared_scope_used(ctx: PostureContext) -> Iterator[Failure]:
    usage = ctx.usage or {}
    for i in ctx.integrations:
        u = usage.get(i.name)
        if u is None:
            continue
        extra = sorted(s for s, c in u.scopes.items() if c.count and s not in i.scopes)
        if extra:
            yield fail(
                "integration",
                i.name,
                f"{i.name} used undeclared scope(s) {', '.join(extra)}",
                scopes=extra,
            )
