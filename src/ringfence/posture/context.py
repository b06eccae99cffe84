"""The explicit input of every posture check: facts about the estate, usage and SaaS tenants.

A ``PostureContext`` is plain data built once (from the store, the connectors' observations,
the gateway's usage tables, vendor-risk tables) and handed to each check; checks never reach
for a client, a session or a global. Optional sources are ``None`` when their capability has
no data yet, and the checks needing them are skipped with that reason. Nothing here holds a
secret value: credentials appear as references only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property

from ringfence.connectors import DiscoveredApp, DiscoveredGrant, DiscoveredPerson
from ringfence.core.levels import DataClass


@dataclass(frozen=True, slots=True)
class PosturePolicy:
    """Thresholds the checks compare against (organisation policy, not vendor facts)."""

    credential_max_age_days: int = 90
    credential_unused_days: int = 90
    credential_expiry_warning_days: int = 14
    never_rotated_grace_days: int = 30
    dormant_days: int = 90
    unused_scope_days: int = 30
    integration_unused_days: int = 90
    max_scopes_per_integration: int = 10
    max_admins_per_tenant: int = 5
    assessment_max_age_days: int = 365
    drill_max_age_days: int = 90
    backup_max_age_hours: int = 24
    audit_source_silence_hours: int = 24
    # Longest retention allowed per data class (days); a rule beyond it breaches policy.
    max_retention_days: tuple[tuple[str, int], ...] = (
        ("public", 3650),
        ("internal", 2555),
        ("confidential", 2555),
        ("restricted", 2555),
    )

    # Console roles the deployment requires MFA of (RINGFENCE_IDENTITY_MFA_REQUIRED_ROLES, read
    # by the loader); the default is identity's (roles.MFA_REQUIRED_ROLES).
    mfa_required_roles: frozenset[str] = frozenset({"admin", "security-analyst"})

    def max_retention(self, data_class: str) -> int | None:
        return dict(self.max_retention_days).get(data_class)


@dataclass(frozen=True, slots=True)
class PersonFact:
    id: str
    email: str
    name: str = ""
    active: bool = True
    deactivated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AppFact:
    id: str
    name: str
    vendor: str
    category: str = "other"
    base_urls: tuple[str, ...] = ()
    sanctioned: bool = True
    owner_id: str | None = None
    clearance: DataClass = DataClass.INTERNAL
    data_classes: tuple[str, ...] = ()
    retention_days: tuple[tuple[str, int], ...] = ()

    @property
    def retention(self) -> dict[str, int]:
        return dict(self.retention_days)


@dataclass(frozen=True, slots=True)
class IntegrationFact:
    id: str
    name: str
    kind: str
    destination_app_id: str
    source_app_id: str | None = None
    owner_id: str | None = None
    client_id: str | None = None
    status: str = "active"
    scopes: tuple[str, ...] = ()
    data_classes: tuple[str, ...] = ()
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RotationEvidence:
    """What Ringfence itself recorded about a credential's current value — not ``rotated_at``,
    a claim anyone who edits the estate (ringfence.yaml, the API) can set: when the value in
    use was stored (the vault version's audit record, or a respond rotation run), and whether
    it replaced an earlier one."""

    current_since: datetime
    rotated: bool
    source: str  # e.g. "vault:crm/token version 3 (audit record 42)"


@dataclass(frozen=True, slots=True)
class CredentialFact:
    id: str
    name: str
    kind: str
    ref: str
    integration_id: str | None = None
    created_at: datetime | None = None
    rotated_at: datetime | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    rotation_days: int | None = None
    # None: nothing Ringfence recorded shows when the value was stored (a reference outside
    # the vault, or a vault name with no secret): rotation is only declared.
    evidence: RotationEvidence | None = None


@dataclass(frozen=True, slots=True)
class PlatformSecretFact:
    """A vault entry Ringfence's own configuration reads (the SSO client secret, a monitor
    sink's token...): not an inventory credential, but rotated like one."""

    id: str  # "sso:oidc_client_secret", "sink:splunk:token"
    used_by: str  # "the SSO client secret (RINGFENCE_IDENTITY_OIDC_CLIENT_SECRET_REF)"
    ref: str  # "vault:NAME"
    created_at: datetime | None = None  # the vault entry's (None: not in the vault)
    evidence: RotationEvidence | None = None


@dataclass(frozen=True, slots=True)
class FlowFact:
    id: str
    name: str
    source_app_id: str
    destination_app_id: str
    data_classes: tuple[str, ...]
    origin: str = "declared"
    integration_id: str | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None


@dataclass(frozen=True, slots=True)
class RouteFact:
    """A gateway route, reduced to what posture needs."""

    name: str
    app: str
    upstream: str
    integrations: tuple[str, ...]
    operations: int
    operations_with_schema: int
    rate_limit: str | None
    allow_loopback: bool = False


@dataclass(frozen=True, slots=True)
class UsageCount:
    count: int
    last_seen: datetime | None


@dataclass(frozen=True, slots=True)
class ObservedUsage:
    """What the gateway saw one integration use (the least-privilege input).

    ``scopes`` / ``routes``: name → count and last time seen. ``direct_calls``: SaaS host →
    count of calls observed going around the gateway (from SaaS audit logs), if known.
    """

    integration: str
    scopes: dict[str, UsageCount] = field(default_factory=dict)
    routes: dict[str, UsageCount] = field(default_factory=dict)
    last_seen: datetime | None = None
    direct_calls: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ConsoleUserFact:
    """A Ringfence console/API user (from the identity capability)."""

    id: str
    username: str
    person_id: str | None = None
    roles: tuple[str, ...] = ()
    local_password: bool = False
    sso: bool = False
    mfa: bool = False
    disabled: bool = False
    # Whether the newest recorded sign-in presented a second factor (None: none recorded).
    last_signin_mfa: bool | None = None


@dataclass(frozen=True, slots=True)
class VendorFact:
    id: str
    name: str
    last_assessment_at: datetime | None = None
    certifications: tuple[tuple[str, date | None], ...] = ()  # (kind, expires_on)
    has_dpa: bool = False
    open_critical_findings: int = 0
    security_contacts: int = 0


@dataclass(frozen=True, slots=True)
class ReadinessFacts:
    """Incident-response readiness (from the respond capability)."""

    playbook_classes: frozenset[str] = frozenset()
    last_drill_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class BackupFacts:
    """Backups proven good: when the newest backup that passed ``backup verify`` (or a restore)
    was made (None: never)."""

    last_verified_backup_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class MonitoringFacts:
    """Audit sources (name → last event time) and SIEM sinks (name → failing?)."""

    sources: dict[str, datetime | None] = field(default_factory=dict)
    sinks_failing: dict[str, bool] = field(default_factory=dict)


@dataclass
class SaasFacts:
    """What the connectors observed in the SaaS tenants."""

    people: list[DiscoveredPerson] = field(default_factory=list)
    apps: list[DiscoveredApp] = field(default_factory=list)
    grants: list[DiscoveredGrant] = field(default_factory=list)
    vendors_pulled: frozenset[str] = frozenset()


@dataclass
class PostureContext:
    """Everything the checks may look at. ``None`` sections: that source has no data."""

    now: datetime
    policy: PosturePolicy = field(default_factory=PosturePolicy)
    people: list[PersonFact] = field(default_factory=list)
    apps: list[AppFact] = field(default_factory=list)
    integrations: list[IntegrationFact] = field(default_factory=list)
    credentials: list[CredentialFact] = field(default_factory=list)
    # Vault entries the SSO settings and monitor.yaml's sinks read (posture/platform.py).
    platform_secrets: list[PlatformSecretFact] = field(default_factory=list)
    flows: list[FlowFact] = field(default_factory=list)
    routes: list[RouteFact] | None = None
    usage: dict[str, ObservedUsage] | None = None
    saas: SaasFacts | None = None
    vendors: list[VendorFact] | None = None
    readiness: ReadinessFacts | None = None
    backups: BackupFacts | None = None
    monitoring: MonitoringFacts | None = None
    console_users: list[ConsoleUserFact] | None = None
    # Inventory vendors, id -> name (``vendors`` holds vendor-risk facts, None without them).
    vendor_names_by_id: dict[str, str] = field(default_factory=dict)
    # Integration names adopted from discovery or explicitly declared as matching a SaaS app.
    notes: dict[str, str] = field(default_factory=dict)

    # -- indexes (built once, shared by every check) --------------------------------------
    @cached_property
    def people_by_id(self) -> dict[str, PersonFact]:
        return {p.id: p for p in self.people}

    @cached_property
    def people_by_email(self) -> dict[str, PersonFact]:
        return {p.email.lower(): p for p in self.people}

    @cached_property
    def apps_by_id(self) -> dict[str, AppFact]:
        return {a.id: a for a in self.apps}

    @cached_property
    def apps_by_name(self) -> dict[str, AppFact]:
        return {a.name: a for a in self.apps}

    @cached_property
    def apps_by_vendor(self) -> dict[str, list[AppFact]]:
        out: dict[str, list[AppFact]] = defaultdict(list)
        for a in self.apps:
            out[a.vendor].append(a)
        return dict(out)

    @cached_property
    def integrations_by_id(self) -> dict[str, IntegrationFact]:
        return {i.id: i for i in self.integrations}

    @cached_property
    def integration_names(self) -> frozenset[str]:
        return frozenset(i.name for i in self.integrations)

    @cached_property
    def credentials_by_integration(self) -> dict[str, list[CredentialFact]]:
        out: dict[str, list[CredentialFact]] = defaultdict(list)
        for c in self.credentials:
            if c.integration_id:
                out[c.integration_id].append(c)
        return out

    @cached_property
    def integrations_by_app(self) -> dict[str, list[IntegrationFact]]:
        out: dict[str, list[IntegrationFact]] = defaultdict(list)
        for i in self.integrations:
            out[i.destination_app_id].append(i)
            if i.source_app_id:
                out[i.source_app_id].append(i)
        return out

    @cached_property
    def declared_client_ids(self) -> frozenset[str]:
        return frozenset(i.client_id for i in self.integrations if i.client_id)

    @cached_property
    def routed_integrations(self) -> frozenset[str]:
        return frozenset(n for r in self.routes or () for n in r.integrations)

    @cached_property
    def declared_flow_keys(self) -> frozenset[tuple[str, str]]:
        return frozenset(
            (f.source_app_id, f.destination_app_id) for f in self.flows if f.origin == "declared"
        ) | frozenset(
            (i.source_app_id, i.destination_app_id) for i in self.integrations if i.source_app_id
        )

    @cached_property
    def vendors_by_name(self) -> dict[str, VendorFact]:
        return {v.name: v for v in self.vendors or ()}

    def owner_email(self, owner_id: str | None) -> str | None:
        person = self.people_by_id.get(owner_id) if owner_id else None
        return person.email if person else None

    def app_name(self, app_id: str | None) -> str:
        app = self.apps_by_id.get(app_id) if app_id else None
        return app.name if app else str(app_id)

    def days_since(self, when: datetime | None) -> float | None:
        if when is None:
            return None
        return (self.now - when).total_seconds() / 86400.0


def saas_of(ctx: PostureContext) -> SaasFacts:
    """The SaaS facts of ``ctx``; checks that call this declare ``requires=("saas",)``."""
    if ctx.saas is None:
        raise LookupError("no SaaS facts in this context")
    return ctx.saas
