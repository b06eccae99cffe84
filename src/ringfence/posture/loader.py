"""Build a ``PostureContext`` from the store in a handful of bulk queries.

Inventory tables are read through the foundation models. Other capabilities' tables (gateway
routes and usage, vendor risk, monitoring) are read only if they exist, through narrow SQL,
so posture works whichever capabilities are installed; a source without data stays ``None``
and its checks skip with a reason. Never reads a secret: credential rows hold references.
"""

from __future__ import annotations

import gc
import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ringfence.connectors import DiscoveredApp, DiscoveredGrant, DiscoveredPerson
from ringfence.core.levels import DataClass
from ringfence.posture.context import (
    AppFact,
    BackupFacts,
    ConsoleUserFact,
    CredentialFact,
    FlowFact,
    IntegrationFact,
    MonitoringFacts,
    ObservedUsage,
    PersonFact,
    PlatformSecretFact,
    PostureContext,
    PosturePolicy,
    ReadinessFacts,
    RotationEvidence,
    RouteFact,
    SaasFacts,
    UsageCount,
    VendorFact,
)
from ringfence.posture.models import SaasObservation
from ringfence.posture.platform import platform_secret_refs
from ringfence.store.models import (
    App,
    AuditRecord,
    Credential,
    DataFlow,
    Integration,
    Person,
    VaultSecret,
    Vendor,
)
from ringfence.store.types import UTCDateTime
from ringfence.vendors.schemas import soc2_cap


def _clearance(value: int) -> DataClass:
    try:
        return DataClass(value)
    except ValueError:
        return DataClass.PUBLIC


def load_context(
    session: Session,
    now: datetime,
    policy: PosturePolicy | None = None,
    *,
    data_dir: Path | None = None,
    connectors_file: Path | None = None,
) -> PostureContext:
    """One query per table, column rows (not ORM entities): ~10x cheaper at 10k rows.

    ``data_dir``: where monitor.yaml is, whose sinks' vault entries are rotated like
    credentials (without it only the SSO client secret is looked at); ``connectors_file``:
    the connectors.yaml whose connectors' vault entries are too."""
    gc_was_enabled = gc.isenabled()
    gc.disable()  # many small acyclic objects; see engine.run_checks
    try:
        ctx = _load(session, now, policy)
        ctx.platform_secrets = _platform_secrets(session, data_dir, connectors_file)
        return ctx
    finally:
        if gc_was_enabled:
            gc.enable()


def _platform_secrets(
    session: Session, data_dir: Path | None, connectors_file: Path | None
) -> list[PlatformSecretFact]:
    """The vault entries Ringfence's own configuration reads, with what the vault recorded
    about their current values (as for credentials)."""
    refs = platform_secret_refs(data_dir, connectors_file)
    if not refs:
        return []
    names = sorted({r.vault_name for r in refs})
    created = {
        name: when
        for name, when in session.execute(
            select(VaultSecret.name, VaultSecret.created_at).where(VaultSecret.name.in_(names))
        ).tuples()
    }
    evidence = _rotation_evidence(
        session, [(r.id, r.id, None, f"vault:{r.vault_name}") for r in refs]
    )
    return [
        PlatformSecretFact(
            r.id,
            r.used_by,
            f"vault:{r.vault_name}",
            _aware(created.get(r.vault_name)),
            evidence.get(r.id),
        )
        for r in refs
    ]


def _deployment_policy() -> PosturePolicy:
    """The default thresholds, with the console roles this deployment requires MFA of (the
    identity setting enforcement reads), so posture and sign-in agree on who must use MFA.

    A bad ``RINGFENCE_IDENTITY_*`` variable is the ConfigError identity raises, naming it."""
    from ringfence.identity.settings import IdentitySettings

    return PosturePolicy(mfa_required_roles=frozenset(IdentitySettings().mfa_required_roles))


def _cols(session: Session, *columns: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in session.execute(select(*columns)).tuples()]


def _load(session: Session, now: datetime, policy: PosturePolicy | None) -> PostureContext:
    vendors = dict(_cols(session, Vendor.id, Vendor.name))
    ctx = PostureContext(now=now, policy=policy or _deployment_policy())
    ctx.vendor_names_by_id = {str(k): str(v) for k, v in vendors.items()}
    ctx.people = [
        PersonFact(*r)
        for r in _cols(
            session, Person.id, Person.email, Person.name, Person.active, Person.deactivated_at
        )
    ]
    app_rows = _cols(
        session,
        App.id,
        App.name,
        App.vendor_id,
        App.category,
        App.base_urls,
        App.sanctioned,
        App.owner_id,
        App.clearance,
        App.data_classes,
        App.retention_days,
    )
    ctx.apps = [
        AppFact(
            r[0],
            r[1],
            vendors.get(r[2], "?"),
            r[3],
            tuple(r[4] or ()),
            r[5],
            r[6],
            _clearance(r[7]),
            tuple(r[8] or ()),
            tuple(sorted((r[9] or {}).items())),
        )
        for r in app_rows
    ]
    integration_rows = _cols(
        session,
        Integration.id,
        Integration.name,
        Integration.kind,
        Integration.destination_app_id,
        Integration.source_app_id,
        Integration.owner_id,
        Integration.client_id,
        Integration.status,
        Integration.scopes,
        Integration.data_classes,
        Integration.created_at,
    )
    ctx.integrations = [
        IntegrationFact(
            r[0],
            r[1],
            str(r[2].value),
            r[3],
            r[4],
            r[5],
            r[6],
            str(r[7].value),
            tuple(r[8] or ()),
            tuple(r[9] or ()),
            r[10],
        )
        for r in integration_rows
    ]
    credential_rows = _cols(
        session,
        Credential.id,
        Credential.name,
        Credential.kind,
        Credential.ref,
        Credential.integration_id,
        Credential.created_at,
        Credential.rotated_at,
        Credential.expires_at,
        Credential.last_used_at,
        Credential.rotation_days,
    )
    evidence = _rotation_evidence(session, credential_rows)
    ctx.credentials = [
        CredentialFact(
            r[0],
            r[1],
            str(r[2].value),
            r[3],
            r[4],
            r[5],
            r[6],
            r[7],
            r[8],
            r[9],
            evidence.get(r[0]),
        )
        for r in credential_rows
    ]
    flow_rows = _cols(
        session,
        DataFlow.id,
        DataFlow.name,
        DataFlow.source_app_id,
        DataFlow.destination_app_id,
        DataFlow.data_classes,
        DataFlow.origin,
        DataFlow.integration_id,
        DataFlow.first_seen,
        DataFlow.last_seen,
    )
    ctx.flows = [
        FlowFact(r[0], r[1], r[2], r[3], tuple(r[4] or ()), str(r[5].value), r[6], r[7], r[8])
        for r in flow_rows
    ]
    tables = set(inspect(session.connection()).get_table_names())
    ctx.saas = load_saas(session)
    ctx.routes = _routes(session) if "gateway_routes" in tables else None
    ctx.usage = _usage(session) if "gateway_usage" in tables else None
    ctx.vendors = _vendors(session, tables, now)
    ctx.monitoring = _monitoring(session, now) if "monitor_events" in tables else None
    ctx.console_users = _console_users(session) if "identity_users" in tables else None
    ctx.backups = _backups(session)
    ctx.readiness = _readiness(session) if "respond_playbooks" in tables else None
    return ctx


def vault_name_of(ref: str) -> str | None:
    """The vault secret a credential reference names (``vault:NAME`` / ``${vault:NAME}``)."""
    if ref.startswith("vault:"):
        return ref[len("vault:") :] or None
    if ref.startswith("${vault:") and ref.endswith("}"):
        return ref[len("${vault:") : -1] or None
    return None


def _rotation_evidence(
    session: Session, credential_rows: list[tuple[Any, ...]]
) -> dict[str, RotationEvidence]:
    """Per credential id, what Ringfence itself recorded about its current value.

    The vault: the audit record that stored the version in use (``vault.create`` /
    ``vault.update``, in the tamper-evident chain; the row's own ``updated_at`` for a secret
    stored before those records) and whether an earlier value was replaced (version > 1 or an
    update record). Respond: a ``credential.rotate`` record (a rotation run at the vendor).
    ``rotated_at`` is not read here: it is the claim this is checked against."""
    names = {r[0]: n for r in credential_rows if (n := vault_name_of(str(r[3])))}
    secrets = {
        name: (version, _aware(updated))
        for name, version, updated in session.execute(
            select(VaultSecret.name, VaultSecret.version, VaultSecret.updated_at)
        ).tuples()
    }
    stored: dict[str, tuple[datetime, int]] = {}  # name -> (newest create/update ts, seq)
    updated: set[str] = set()
    for name, action, seq, ts in session.execute(
        select(AuditRecord.entity_id, AuditRecord.action, AuditRecord.seq, AuditRecord.ts).where(
            AuditRecord.entity_type == "vault_secret",
            AuditRecord.action.in_(("vault.create", "vault.update")),
        )
    ).tuples():
        if name is None or name not in secrets:
            continue
        if action == "vault.update":
            updated.add(name)
        when = _aware(ts)
        if when is not None and (name not in stored or seq > stored[name][1]):
            stored[name] = (when, seq)
    runs = {
        str(cid): _aware(ts)
        for cid, ts in session.execute(
            select(AuditRecord.entity_id, func.max(AuditRecord.ts))
            .where(AuditRecord.action == "credential.rotate")
            .group_by(AuditRecord.entity_id)
        ).tuples()
        if cid is not None
    }
    out: dict[str, RotationEvidence] = {}
    for row in credential_rows:
        cid = str(row[0])
        found: list[RotationEvidence] = []
        name = names.get(row[0])
        if name is not None and name in secrets:
            version, row_updated = secrets[name]
            if name in stored:
                when, seq = stored[name]
                source = f"vault:{name} version {version} (audit record {seq})"
            else:
                when, source = row_updated, f"vault:{name} version {version}"
            if when is not None:
                rotated = version > 1 or name in updated
                found.append(RotationEvidence(when, rotated, source))
        run = runs.get(cid)
        if run is not None:
            found.append(RotationEvidence(run, True, "a respond rotation run (audit log)"))
        if found:
            newest = max(found, key=lambda e: e.current_since)
            out[cid] = RotationEvidence(
                newest.current_since, any(e.rotated for e in found), newest.source
            )
    return out


def _readiness(session: Session) -> ReadinessFacts:
    """Integration kinds the declared playbooks cover, and the last drill that contained."""
    from ringfence.respond.models import Incident, Playbook

    covered: set[str] = set()
    for spec in session.scalars(select(Playbook.spec)):
        covered.update(str(k) for k in (spec or {}).get("covers", []))
    last = session.scalar(select(func.max(Incident.contained_at)).where(Incident.drill.is_(True)))
    return ReadinessFacts(frozenset(covered), _aware(last) if last is not None else None)


def _backups(session: Session) -> BackupFacts:
    """The newest backup proven good, from the audit log (``backup.verified`` / ``.restored``
    records carry the backup's own creation time: verifying an old backup today does not make
    a new one)."""
    newest: datetime | None = None
    rows = session.execute(
        select(AuditRecord.after).where(
            AuditRecord.action.in_(("backup.verified", "backup.restored"))
        )
    ).scalars()
    for after in rows:
        raw = (after or {}).get("backup_created_at")
        try:
            made = datetime.fromisoformat(str(raw)) if raw else None
        except ValueError:
            made = None
        if made is not None and made.tzinfo is not None and (newest is None or made > newest):
            newest = made
    return BackupFacts(newest)


def load_saas(session: Session) -> SaasFacts | None:
    rows = session.scalars(select(SaasObservation)).all()
    if not rows:
        return None
    facts = SaasFacts()
    pulled: set[str] = set()
    for row in rows:
        pulled.add(row.vendor)
        if row.kind == "person":
            facts.people.append(person_from_json(row.data))
        elif row.kind == "app":
            facts.apps.append(app_from_json(row.data))
        elif row.kind == "grant":
            facts.grants.append(grant_from_json(row.data))
    facts.vendors_pulled = frozenset(pulled)
    return facts


def _dt(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def person_from_json(d: dict[str, Any]) -> DiscoveredPerson:
    return DiscoveredPerson(
        d["vendor"],
        d["external_id"],
        d["login"],
        d.get("email"),
        d.get("name", ""),
        bool(d.get("active", True)),
        bool(d.get("is_admin", False)),
        d.get("mfa_enabled"),
        _dt(d.get("last_login")),
    )


def app_from_json(d: dict[str, Any]) -> DiscoveredApp:
    return DiscoveredApp(
        d["vendor"],
        d["external_id"],
        d["name"],
        d.get("client_id"),
        tuple(d.get("scopes") or ()),
        bool(d.get("enabled", True)),
        d.get("publisher"),
        d.get("verified"),
        _dt(d.get("installed_at")),
    )


def grant_from_json(d: dict[str, Any]) -> DiscoveredGrant:
    return DiscoveredGrant(
        d["vendor"],
        d["external_id"],
        d["app_name"],
        d.get("client_id"),
        d.get("principal"),
        tuple(d.get("scopes") or ()),
        bool(d.get("tenant_wide", False)),
        _dt(d.get("created_at")),
        _dt(d.get("last_used_at")),
        _dt(d.get("expires_at")),
        dict(d.get("handle") or {}),
    )


def _routes(session: Session) -> list[RouteFact] | None:
    rows = session.execute(text("SELECT name, spec FROM gateway_routes")).all()
    if not rows:
        return None
    out = []
    for name, stored in rows:
        spec = _route_whole(_json_value(stored))
        ops = spec.get("operations") or []
        out.append(
            RouteFact(
                name=str(name),
                app=str(spec.get("app", "")),
                upstream=str(spec.get("upstream", "")),
                integrations=tuple(spec.get("integrations") or ()),
                operations=len(ops),
                operations_with_schema=sum(
                    1
                    for o in ops
                    if o.get("request_schema")
                    or str(o.get("method", "")).upper() in {"GET", "DELETE", "HEAD"}
                ),
                rate_limit=spec.get("rate_limit"),
                allow_loopback=bool(spec.get("allow_loopback")),
            )
        )
    return out


def _route_whole(spec: dict[str, Any]) -> dict[str, Any]:
    """A stored route with its defaults filled in: routes are stored with only what differs
    from the defaults (``gateway.routes.stored_spec``), so a route left at the default rate
    limit holds no ``rate_limit`` key. One the model refuses is read as stored."""
    from pydantic import ValidationError

    from ringfence.gateway.routes import RouteSpec

    try:
        return dict(RouteSpec.model_validate(spec).model_dump(mode="json"))
    except ValidationError:
        return spec


def _aware(value: Any) -> datetime | None:
    """A DB timestamp (naive UTC text on SQLite, aware on PostgreSQL) as an aware datetime."""
    if value is None:
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _json_value(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _rows(session: Session, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in session.execute(text(sql)).all()]


def _usage(session: Session) -> dict[str, ObservedUsage] | None:
    """Gateway usage contract: gateway_usage(integration, scope, route, count, last_seen)."""
    try:
        rows = _rows(
            session, "SELECT integration, scope, route, count, last_seen FROM gateway_usage"
        )
    except SQLAlchemyError:
        return None
    if not rows:
        return None
    scopes: dict[str, dict[str, UsageCount]] = defaultdict(dict)
    routes: dict[str, dict[str, UsageCount]] = defaultdict(dict)
    last: dict[str, datetime] = {}
    for integration, scope, route, count, seen in rows:
        when = _aware(seen)
        if scope:
            scopes[integration][scope] = UsageCount(int(count or 0), when)
        if route:
            routes[integration][route] = UsageCount(int(count or 0), when)
        if when is not None and (integration not in last or when > last[integration]):
            last[integration] = when
    return {
        n: ObservedUsage(n, scopes.get(n, {}), routes.get(n, {}), last.get(n))
        for n in set(scopes) | set(routes)
    }


_PENTEST_SQL = (
    "SELECT p.vendor_id, COUNT(*) FROM vendor_pentest_findings f "
    "JOIN vendor_pentests p ON f.pentest_id = p.id "
    "WHERE f.severity = 'critical' AND f.status IN ('open', 'in_progress') GROUP BY p.vendor_id"
)
_CONTACTS_SQL = (
    "SELECT p.vendor_id, COUNT(c.id) FROM vendor_profiles p "
    "LEFT JOIN vendor_contacts c ON c.profile_id = p.id GROUP BY p.vendor_id"
)


def _vendors(session: Session, tables: set[str], now: datetime) -> list[VendorFact] | None:
    """Vendor-risk facts; None when the vendors capability holds no data at all."""
    needed = {
        "vendor_profiles",
        "vendor_assessments",
        "vendor_certifications",
        "vendor_contracts",
        "vendor_pentests",
        "vendor_pentest_findings",
        "vendor_contacts",
    }
    if not needed <= tables:
        return None
    counts = _rows(
        session,
        "SELECT (SELECT COUNT(*) FROM vendor_profiles) + "
        "(SELECT COUNT(*) FROM vendor_assessments) + "
        "(SELECT COUNT(*) FROM vendor_certifications) + "
        "(SELECT COUNT(*) FROM vendor_contracts)",
    )
    if not counts or not counts[0][0]:
        return None
    # A questionnaire counts once its date has passed: a completion dated in the future (a
    # typo, or a writer silencing RF-VND-001 for years) is not an assessment yet.
    latest = text(
        "SELECT vendor_id, MAX(submitted_at) FROM vendor_assessments "
        "WHERE submitted_at IS NOT NULL AND submitted_at <= :now GROUP BY vendor_id"
    ).bindparams(bindparam("now", now, type_=UTCDateTime()))
    assessed = {vid: _aware(when) for vid, when in session.execute(latest).tuples()}
    certs: dict[str, list[tuple[str, date | None]]] = defaultdict(list)
    for vid, kind, expires, period_end in _rows(
        session, "SELECT vendor_id, kind, expires_on, period_end FROM vendor_certifications"
    ):
        until, end = _as_date(expires), _as_date(period_end)
        if str(kind) in _SOC2_KINDS and end is not None:
            # As the vendor score (evidence.valid_until): a row stored before later dates were
            # refused counts only until the report's cap, whatever its expires_on says.
            until = soc2_cap(end) if until is None else min(until, soc2_cap(end))
        certs[vid].append((str(kind), until))
    dpa = {
        vid
        for vid, clauses in _rows(session, "SELECT vendor_id, clauses FROM vendor_contracts")
        if isinstance(c := _json_value(clauses), dict) and c.get("dpa") is True
    }
    critical = {vid: int(n) for vid, n in _rows(session, _PENTEST_SQL)}
    contacts = {vid: int(n) for vid, n in _rows(session, _CONTACTS_SQL)}
    return [
        VendorFact(
            vid,
            name,
            assessed.get(vid),
            tuple(certs.get(vid, ())),
            vid in dpa,
            critical.get(vid, 0),
            contacts.get(vid, 0),
        )
        for vid, name in session.execute(select(Vendor.id, Vendor.name)).tuples()
    ]


_SOC2_KINDS = frozenset({"soc2_type1", "soc2_type2"})


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


# An alert still undelivered this long after it was due means nothing is delivering it (the
# deliverer is not running, or crashes before it records an attempt): as failing as 3 tries.
OVERDUE_DELIVERY = timedelta(minutes=15)


def _monitoring(session: Session, now: datetime) -> MonitoringFacts | None:
    """Audit sources (last event per source) and SIEM sinks (failing = undelivered after 3
    attempts, or undelivered and due for longer than ``OVERDUE_DELIVERY``)."""
    sources = {
        str(src): _aware(last)
        for src, last in _rows(
            session, "SELECT source, MAX(ts) FROM monitor_events GROUP BY source"
        )
    }
    sinks: dict[str, bool] = {}
    try:
        query = text(
            "SELECT sink, MAX(CASE WHEN delivered_at IS NULL AND (attempts >= 3 "
            "OR next_attempt_at < :overdue) THEN 1 ELSE 0 END) FROM monitor_outbox "
            "GROUP BY sink"
        ).bindparams(bindparam("overdue", now - OVERDUE_DELIVERY, type_=UTCDateTime()))
        sinks = {str(sink): bool(failing) for sink, failing in session.execute(query).tuples()}
    except SQLAlchemyError:
        sinks = {}
    if not sources and not sinks:
        return None
    return MonitoringFacts(sources, sinks)


def _console_users(session: Session) -> list[ConsoleUserFact] | None:
    """Console users (identity capability); None while there are none."""
    rows = _rows(
        session,
        "SELECT id, username, person_id, roles, password_hash IS NOT NULL, "
        "sso_subject IS NOT NULL, totp_confirmed, disabled_at IS NOT NULL "
        "FROM identity_users",
    )
    if not rows:
        return None
    signins = _last_signin_mfa(session)
    return [
        ConsoleUserFact(
            str(r[0]),
            str(r[1]),
            r[2],
            tuple(_json_value(r[3]) or ()),
            bool(r[4]),
            bool(r[5]),
            bool(r[6]),
            bool(r[7]),
            signins.get(str(r[0])),
        )
        for r in rows
    ]


def _last_signin_mfa(session: Session) -> dict[str, bool]:
    """Per console user id: whether the newest ``session.create`` audit record says the
    sign-in presented a second factor (TOTP, or MFA the identity provider asserted)."""
    newest = (
        select(AuditRecord.entity_id, func.max(AuditRecord.seq).label("seq"))
        .where(AuditRecord.action == "session.create")
        .group_by(AuditRecord.entity_id)
        .subquery()
    )
    rows = session.execute(
        select(AuditRecord.entity_id, AuditRecord.after).join(
            newest, AuditRecord.seq == newest.c.seq
        )
    ).tuples()
    return {
        str(uid): after["mfa"]
        for uid, after in rows
        if uid is not None and isinstance(after, dict) and isinstance(after.get("mfa"), bool)
    }
