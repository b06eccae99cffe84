"""Build a ``PostureContext`` from the store in a handful of bulk queries.

Inventory tables are read through the foundation models. Other capabilities' tables (gateway
routes and usage, vendor risk, monitoring) are read only if they exist, through narrow SQL,
so posture works whichever capabilities are installed; a source without data stays ``None``
and its checks skip with a reason. Never reads a secret: credential rows hold references.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import inspect, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ringfence.connectors import DiscoveredApp, DiscoveredGrant, DiscoveredPerson
from ringfence.core.levels import DataClass
from ringfence.posture.context import (
    AppFact,
    CredentialFact,
    FlowFact,
    IntegrationFact,
    MonitoringFacts,
    ObservedUsage,
    PersonFact,
    PostureContext,
    PosturePolicy,
    RouteFact,
    SaasFacts,
    UsageCount,
    VendorFact,
)
from ringfence.posture.models import SaasObservation
from ringfence.store.models import App, Credential, DataFlow, Integration, Person, Vendor


def _clearance(value: int) -> DataClass:
    try:
        return DataClass(value)
    except ValueError:
        return DataClass.PUBLIC


def load_context(
    session: Session, now: datetime, policy: PosturePolicy | None = None
) -> PostureContext:
    vendors = dict(session.execute(select(Vendor.id, Vendor.name)).tuples().all())
    ctx = PostureContext(now=now, policy=policy or PosturePolicy())
    ctx.people = [
        PersonFact(p.id, p.email, p.name, p.active, p.deactivated_at)
        for p in session.scalars(select(Person))
    ]
    ctx.apps = [
        AppFact(
            a.id,
            a.name,
            vendors.get(a.vendor_id, "?"),
            a.category,
            tuple(a.base_urls or ()),
            a.sanctioned,
            a.owner_id,
            _clearance(a.clearance),
            tuple(a.data_classes or ()),
            tuple(sorted((a.retention_days or {}).items())),
        )
        for a in session.scalars(select(App))
    ]
    ctx.integrations = [
        IntegrationFact(
            i.id,
            i.name,
            str(i.kind.value),
            i.destination_app_id,
            i.source_app_id,
            i.owner_id,
            i.client_id,
            str(i.status.value),
            tuple(i.scopes or ()),
            tuple(i.data_classes or ()),
            i.created_at,
        )
        for i in session.scalars(select(Integration))
    ]
    ctx.credentials = [
        CredentialFact(
            c.id,
            c.name,
            str(c.kind.value),
            c.ref,
            c.integration_id,
            c.created_at,
            c.rotated_at,
            c.expires_at,
            c.last_used_at,
            c.rotation_days,
        )
        for c in session.scalars(select(Credential))
    ]
    ctx.flows = [
        FlowFact(
            f.id,
            f.name,
            f.source_app_id,
            f.destination_app_id,
            tuple(f.data_classes or ()),
            str(f.origin.value),
            f.integration_id,
            f.first_seen,
            f.last_seen,
        )
        for f in session.scalars(select(DataFlow))
    ]
    tables = set(inspect(session.connection()).get_table_names())
    ctx.saas = load_saas(session)
    ctx.routes = _routes(session) if "gateway_routes" in tables else None
    ctx.usage = _usage(session) if "gateway_usage" in tables else None
    ctx.vendors = _vendors(session, tables)
    ctx.monitoring = _monitoring(session) if "monitor_events" in tables else None
    return ctx


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
    for name, spec in rows:
        spec = _json_value(spec)
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


def _vendors(session: Session, tables: set[str]) -> list[VendorFact] | None:
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
    assessed = {
        vid: _aware(when)
        for vid, when in _rows(
            session,
            "SELECT vendor_id, MAX(submitted_at) FROM vendor_assessments "
            "WHERE submitted_at IS NOT NULL GROUP BY vendor_id",
        )
    }
    certs: dict[str, list[tuple[str, date | None]]] = defaultdict(list)
    for vid, kind, expires in _rows(
        session, "SELECT vendor_id, kind, expires_on FROM vendor_certifications"
    ):
        certs[vid].append((str(kind), _as_date(expires)))
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


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _monitoring(session: Session) -> MonitoringFacts | None:
    """Audit sources (last event per source) and SIEM sinks (failing = undelivered after 3)."""
    sources = {
        str(src): _aware(last)
        for src, last in _rows(
            session, "SELECT source, MAX(ts) FROM monitor_events GROUP BY source"
        )
    }
    sinks: dict[str, bool] = {}
    try:
        sinks = {
            str(sink): bool(failing)
            for sink, failing in _rows(
                session,
                "SELECT sink, MAX(CASE WHEN delivered_at IS NULL AND attempts >= 3 "
                "THEN 1 ELSE 0 END) FROM monitor_outbox GROUP BY sink",
            )
        }
    except SQLAlchemyError:
        sinks = {}
    if not sources and not sinks:
        return None
    return MonitoringFacts(sources, sinks)
