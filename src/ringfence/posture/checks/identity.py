"""Identity checks: MFA, departed and dormant people, ownership, shared credentials, SSO."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import ConsoleUserFact, PostureContext, saas_of


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


@check(
    id="RF-IDN-003",
    title="Administrator MFA state unknown",
    area="identity",
    severity=Severity.LOW,
    resource="saas_account",
    requires=("saas",),
    rationale="If the connector cannot read an admin's MFA state, a missing factor goes unnoticed.",
    remediation="Grant the connector the read permission that exposes MFA state "
    "(see docs/connectors.md).",
)
def admin_mfa_unknown(ctx: PostureContext) -> Iterator[Failure]:
    for p in saas_of(ctx).people:
        if p.active and p.is_admin and p.mfa_enabled is None:
            yield fail(
                "saas_account",
                f"{p.vendor}:{p.login}",
                f"MFA state of {p.vendor} admin {p.login} cannot be read",
            )


@check(
    id="RF-IDN-004",
    title="Departed person still active in a SaaS tenant",
    area="identity",
    severity=Severity.HIGH,
    resource="saas_account",
    requires=("saas",),
    rationale="Accounts of leavers keep their data access and OAuth grants; deprovisioning "
    "that stops at the IdP leaves doors open.",
    remediation="Deactivate the account in the tenant (ringfence can do it through the "
    "connector) and fix SCIM deprovisioning for that app.",
)
def departed_active(ctx: PostureContext) -> Iterator[Failure]:
    for p in saas_of(ctx).people:
        person = ctx.people_by_email.get((p.email or p.login).lower())
        if person is not None and not person.active and p.active:
            yield fail(
                "saas_account",
                f"{p.vendor}:{p.login}",
                f"{person.email} has left but is still active in {p.vendor}",
                vendor=p.vendor,
                person=person.email,
            )


@check(
    id="RF-IDN-005",
    title="Integration owned by a departed person",
    area="identity",
    severity=Severity.HIGH,
    resource="integration",
    rationale="Nobody answers for an integration whose owner has left: its credentials are "
    "not rotated and its incidents are not handled.",
    remediation="Reassign the integration to an active owner in ringfence.yaml.",
)
def integration_owner_departed(ctx: PostureContext) -> Iterator[Failure]:
    people = ctx.people_by_id
    for i in ctx.integrations:
        owner = people.get(i.owner_id) if i.owner_id else None
        if owner is not None and not owner.active:
            yield fail(
                "integration",
                i.name,
                f"integration {i.name} is owned by departed {owner.email}",
                owner=owner.email,
            )


@check(
    id="RF-IDN-006",
    title="Integration without an owner",
    area="identity",
    severity=Severity.MEDIUM,
    resource="integration",
    rationale="Every door needs a named owner accountable for its access and its incidents.",
    remediation="Set `owner:` on the integration in ringfence.yaml.",
)
def integration_without_owner(ctx: PostureContext) -> Iterator[Failure]:
    for i in ctx.integrations:
        if i.owner_id is None and i.status == "active":
            yield fail("integration", i.name, f"integration {i.name} has no owner")


@check(
    id="RF-IDN-007",
    title="App without an owner",
    area="identity",
    severity=Severity.MEDIUM,
    resource="app",
    rationale="An app nobody owns is not reviewed, not offboarded and not monitored.",
    remediation="Set `owner:` on the app in ringfence.yaml.",
)
def app_without_owner(ctx: PostureContext) -> Iterator[Failure]:
    for a in ctx.apps:
        if a.owner_id is None:
            yield fail("app", a.name, f"app {a.name} has no owner")


@check(
    id="RF-IDN-008",
    title="App owned by a departed person",
    area="identity",
    severity=Severity.MEDIUM,
    resource="app",
    rationale="The owner approves access and answers vendor incidents; a leaver cannot.",
    remediation="Reassign the app to an active owner.",
)
def app_owner_departed(ctx: PostureContext) -> Iterator[Failure]:
    people = ctx.people_by_id
    for a in ctx.apps:
        owner = people.get(a.owner_id) if a.owner_id else None
        if owner is not None and not owner.active:
            yield fail("app", a.name, f"app {a.name} is owned by departed {owner.email}")


@check(
    id="RF-IDN-009",
    title="Dormant integration owner",
    area="identity",
    severity=Severity.LOW,
    resource="integration",
    requires=("saas",),
    rationale="An owner who has not signed in for months is unlikely to notice misuse.",
    remediation="Confirm the owner still holds the role, or reassign the integration.",
)
def dormant_owner(ctx: PostureContext) -> Iterator[Failure]:
    last: dict[str, float] = {}
    for p in saas_of(ctx).people:
        if p.email and p.last_login is not None:
            age = ctx.days_since(p.last_login) or 0.0
            key = p.email.lower()
            last[key] = min(age, last.get(key, age))
    for i in ctx.integrations:
        email = ctx.owner_email(i.owner_id)
        idle = last.get(email.lower()) if email else None
        if idle is not None and idle > ctx.policy.dormant_days:
            yield fail(
                "integration",
                i.name,
                f"owner {email} of {i.name} has not signed in for {int(idle)} days",
                owner=email,
                days=int(idle),
            )


@check(
    id="RF-IDN-010",
    title="Credential shared across integrations",
    area="identity",
    severity=Severity.HIGH,
    resource="credential",
    rationale="A credential used by several integrations cannot be rotated or revoked for "
    "one without breaking the others, and its use cannot be attributed.",
    remediation="Issue one credential per integration.",
)
def shared_credential(ctx: PostureContext) -> Iterator[Failure]:
    users: dict[str, set[str]] = defaultdict(set)
    for c in ctx.credentials:
        if c.integration_id:
            users[c.ref].add(c.integration_id)
    for ref, ids in users.items():
        if len(ids) > 1:
            names = sorted(
                ctx.integrations_by_id[i].name for i in ids if i in ctx.integrations_by_id
            )
            yield fail(
                "credential",
                ref,
                f"credential {ref} is used by {len(ids)} integrations: " + ", ".join(names),
                integrations=names,
            )


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


@check(
    id="RF-IDN-012",
    title="Too many administrators in a SaaS tenant",
    area="identity",
    severity=Severity.LOW,
    resource="saas_tenant",
    requires=("saas",),
    rationale="Each admin widens the blast radius of one phished account.",
    remediation="Reduce standing admins; use just-in-time elevation.",
)
def too_many_admins(ctx: PostureContext) -> Iterator[Failure]:
    counts = Counter(p.vendor for p in saas_of(ctx).people if p.active and p.is_admin)
    for vendor, n in sorted(counts.items()):
        if n > ctx.policy.max_admins_per_tenant:
            yield fail(
                "saas_tenant",
                vendor,
                f"{vendor} has {n} admins (policy max {ctx.policy.max_admins_per_tenant})",
                admins=n,
            )


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


def _console(ctx: PostureContext) -> list[ConsoleUserFact]:
    if ctx.console_users is None:
        raise LookupError("no console users")
    return ctx.console_users


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


@check(
    id="RF-IDN-015",
    title="Ringfence console account of a departed person",
    area="identity",
    severity=Severity.HIGH,
    resource="console_user",
    requires=("console_users",),
    rationale="A leaver's console account keeps control-plane access after offboarding.",
    remediation="Disable the console account (SCIM deprovisioning should have done it).",
)
def console_user_departed(ctx: PostureContext) -> Iterator[Failure]:
    people = ctx.people_by_id
    for u in _console(ctx):
        person = people.get(u.person_id) if u.person_id else None
        if not u.disabled and person is not None and not person.active:
            yield fail(
                "console_user",
                u.username,
                f"console user {u.username} belongs to departed {person.email}",
            )
