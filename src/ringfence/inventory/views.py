"""Read views of the inventory for people: list a kind with filters, show one entry in full.

Rows are plain dicts with names (not ids) for references, ready for a table or JSON. A view
never shows a secret: credentials carry their reference only, which is all the store holds.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ringfence.core.errors import NotFoundError, ValidationError
from ringfence.core.levels import DataClass
from ringfence.store.models import (
    App,
    Credential,
    DataFlow,
    Integration,
    Person,
    Vendor,
)


class Kind(enum.StrEnum):
    APPS = "apps"
    VENDORS = "vendors"
    INTEGRATIONS = "integrations"
    CREDENTIALS = "credentials"
    FLOWS = "flows"
    PEOPLE = "people"


#: Table columns per kind (JSON output carries every field).
COLUMNS: dict[Kind, list[str]] = {
    Kind.APPS: ["name", "vendor", "category", "sanctioned", "owner", "clearance", "data_classes"],
    Kind.VENDORS: ["name", "website", "apps"],
    Kind.INTEGRATIONS: ["name", "kind", "source", "destination", "owner", "status", "scopes"],
    Kind.CREDENTIALS: ["name", "kind", "integration", "ref", "rotation_days", "expires_at"],
    Kind.FLOWS: ["name", "source", "destination", "data_classes", "origin", "integration"],
    Kind.PEOPLE: ["email", "name", "department", "active"],
}

#: Which filters each kind accepts.
FILTERS: dict[Kind, frozenset[str]] = {
    Kind.APPS: frozenset({"status", "vendor", "owner", "category", "data_class"}),
    Kind.VENDORS: frozenset(),
    Kind.INTEGRATIONS: frozenset({"status", "vendor", "owner", "kind", "app", "data_class"}),
    Kind.CREDENTIALS: frozenset({"kind", "owner", "integration"}),
    Kind.FLOWS: frozenset({"origin", "app", "data_class", "integration"}),
    Kind.PEOPLE: frozenset({"status", "department"}),
}


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    vendor: str | None = None
    owner: str | None = None
    kind: str | None = None
    category: str | None = None
    app: str | None = None
    origin: str | None = None
    integration: str | None = None
    data_class: str | None = None
    department: str | None = None

    def given(self) -> set[str]:
        return {k for k, v in self.__dict__.items() if v is not None}


def _check_filters(kind: Kind, filters: Filters) -> None:
    unsupported = sorted(filters.given() - FILTERS[kind])
    if unsupported:
        allowed = ", ".join(f"--{f.replace('_', '-')}" for f in sorted(FILTERS[kind])) or "none"
        raise ValidationError(
            f"{kind.value} cannot be filtered by --{unsupported[0].replace('_', '-')} "
            f"(filters for {kind.value}: {allowed})"
        )


def _choice(value: str, allowed: list[str], what: str) -> str:
    if value not in allowed:
        raise ValidationError(f"unknown {what} {value!r}; expected one of: {', '.join(allowed)}")
    return value


def _names(session: Session, query: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in session.execute(query)}


def _class(value: str) -> str:
    return DataClass.parse(value).label


def _has_class(classes: list[str] | None, wanted: str) -> bool:
    return wanted in (classes or [])


def _app_row(a: App, vendors: dict[str, str], people: dict[str, str]) -> dict[str, Any]:
    return {
        "id": a.id,
        "name": a.name,
        "vendor": vendors.get(a.vendor_id),
        "category": a.category,
        "base_urls": list(a.base_urls or []),
        "sanctioned": a.sanctioned,
        "owner": people.get(a.owner_id) if a.owner_id else None,
        "clearance": DataClass.parse(a.clearance).label,
        "data_classes": list(a.data_classes or []),
        "retention_days": dict(a.retention_days or {}),
        "created_at": a.created_at,
        "updated_at": a.updated_at,
    }


def _integration_row(
    i: Integration, apps: dict[str, str], people: dict[str, str]
) -> dict[str, Any]:
    return {
        "id": i.id,
        "name": i.name,
        "kind": i.kind.value,
        "source": apps.get(i.source_app_id) if i.source_app_id else None,
        "destination": apps.get(i.destination_app_id),
        "owner": people.get(i.owner_id) if i.owner_id else None,
        "client_id": i.client_id,
        "status": i.status.value,
        "scopes": list(i.scopes or []),
        "data_classes": list(i.data_classes or []),
        "description": i.description,
        "created_at": i.created_at,
        "updated_at": i.updated_at,
    }


def _credential_row(c: Credential, integrations: dict[str, str]) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "kind": c.kind.value,
        "integration": integrations.get(c.integration_id) if c.integration_id else None,
        "ref": c.ref,
        "rotation_days": c.rotation_days,
        "rotated_at": c.rotated_at,
        "expires_at": c.expires_at,
        "last_used_at": c.last_used_at,
        "created_at": c.created_at,
    }


def _flow_row(f: DataFlow, apps: dict[str, str], integrations: dict[str, str]) -> dict[str, Any]:
    return {
        "id": f.id,
        "name": f.name,
        "source": apps.get(f.source_app_id),
        "destination": apps.get(f.destination_app_id),
        "integration": integrations.get(f.integration_id) if f.integration_id else None,
        "data_classes": list(f.data_classes or []),
        "origin": f.origin.value,
        "first_seen": f.first_seen,
        "last_seen": f.last_seen,
    }


def _person_row(p: Person) -> dict[str, Any]:
    return {
        "id": p.id,
        "email": p.email,
        "name": p.name,
        "department": p.department,
        "active": p.active,
        "external_id": p.external_id,
        "deactivated_at": p.deactivated_at,
    }


def _lookups(session: Session) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    apps = _names(session, select(App.id, App.name))
    people = _names(session, select(Person.id, Person.email))
    integrations = _names(session, select(Integration.id, Integration.name))
    return apps, people, integrations


def list_rows(session: Session, kind: Kind, filters: Filters | None = None) -> list[dict[str, Any]]:
    """Every entry of ``kind`` matching ``filters``, sorted by name (case-insensitively, the
    same on every engine whatever its collation)."""
    key = "email" if kind is Kind.PEOPLE else "name"
    rows = _list_rows(session, kind, filters)
    return sorted(rows, key=lambda r: (str(r[key]).casefold(), str(r[key])))


def _list_rows(session: Session, kind: Kind, filters: Filters | None) -> list[dict[str, Any]]:
    f = filters or Filters()
    _check_filters(kind, f)
    apps, people, integrations = _lookups(session)
    vendors = _names(session, select(Vendor.id, Vendor.name))
    wanted_class = _class(f.data_class) if f.data_class else None
    owner = f.owner.lower() if f.owner else None
    if kind is Kind.APPS:
        q = select(App).order_by(App.name)
        if f.status:
            _choice(f.status, ["sanctioned", "unsanctioned"], "app status")
            q = q.where(App.sanctioned.is_(f.status == "sanctioned"))
        if f.category:
            q = q.where(App.category == f.category)
        rows = [_app_row(a, vendors, people) for a in session.scalars(q)]
        return [
            r
            for r in rows
            if (f.vendor is None or r["vendor"] == f.vendor)
            and (owner is None or str(r["owner"]).lower() == owner)
            and (wanted_class is None or _has_class(r["data_classes"], wanted_class))
        ]
    if kind is Kind.VENDORS:
        counts: dict[str, int] = {}
        for vid in session.scalars(select(App.vendor_id)):
            counts[vid] = counts.get(vid, 0) + 1
        return [
            {
                "id": v.id,
                "name": v.name,
                "website": v.website,
                "domains": list(v.domains or []),
                "description": v.description,
                "apps": counts.get(v.id, 0),
            }
            for v in session.scalars(select(Vendor).order_by(Vendor.name))
        ]
    if kind is Kind.INTEGRATIONS:
        iq = select(Integration).order_by(Integration.name)
        if f.status:
            _choice(f.status, ["active", "quarantined", "revoked"], "integration status")
            iq = iq.where(Integration.status == f.status)
        if f.kind:
            _choice(f.kind, ["app_to_app", "service_account"], "integration kind")
            iq = iq.where(Integration.kind == f.kind)
        app_vendor = {a.name: vendors.get(a.vendor_id) for a in session.scalars(select(App))}
        irows = [_integration_row(i, apps, people) for i in session.scalars(iq)]
        return [
            r
            for r in irows
            if (owner is None or str(r["owner"]).lower() == owner)
            and (f.app is None or f.app in (r["source"], r["destination"]))
            and (f.vendor is None or app_vendor.get(r["destination"]) == f.vendor)
            and (wanted_class is None or _has_class(r["data_classes"], wanted_class))
        ]
    if kind is Kind.CREDENTIALS:
        cq = select(Credential).order_by(Credential.name)
        if f.kind:
            _choice(
                f.kind,
                [
                    "api_key",
                    "oauth_client_secret",
                    "oauth_refresh_token",
                    "certificate",
                    "password",
                ],
                "credential kind",
            )
            cq = cq.where(Credential.kind == f.kind)
        integ_owner = {
            i.name: people.get(i.owner_id) if i.owner_id else None
            for i in session.scalars(select(Integration))
        }
        crows = [_credential_row(c, integrations) for c in session.scalars(cq)]
        return [
            r
            for r in crows
            if (f.integration is None or r["integration"] == f.integration)
            and (owner is None or str(integ_owner.get(r["integration"] or "")).lower() == owner)
        ]
    if kind is Kind.FLOWS:
        fq = select(DataFlow).order_by(DataFlow.name, DataFlow.origin)
        if f.origin:
            _choice(f.origin, ["declared", "observed"], "flow origin")
            fq = fq.where(DataFlow.origin == f.origin)
        frows = [_flow_row(x, apps, integrations) for x in session.scalars(fq)]
        return [
            r
            for r in frows
            if (f.app is None or f.app in (r["source"], r["destination"]))
            and (f.integration is None or r["integration"] == f.integration)
            and (wanted_class is None or _has_class(r["data_classes"], wanted_class))
        ]
    pq = select(Person).order_by(Person.email)
    if f.status:
        _choice(f.status, ["active", "inactive"], "person status")
        pq = pq.where(Person.active.is_(f.status == "active"))
    if f.department:
        pq = pq.where(Person.department == f.department)
    return [_person_row(p) for p in session.scalars(pq)]


def show(session: Session, kind: Kind, name: str) -> dict[str, Any]:
    """One entry of ``kind`` by name (e-mail for people), with what hangs off it."""
    apps, people, integrations = _lookups(session)
    vendors = _names(session, select(Vendor.id, Vendor.name))
    if kind is Kind.APPS:
        a = session.scalars(select(App).where(App.name == name)).first()
        if a is None:
            raise NotFoundError(f"no app named {name!r}")
        row = _app_row(a, vendors, people)
        row["integrations"] = sorted(
            i.name
            for i in session.scalars(
                select(Integration).where(
                    or_(Integration.source_app_id == a.id, Integration.destination_app_id == a.id)
                )
            )
        )
        row["flows"] = sorted(
            f.name
            for f in session.scalars(
                select(DataFlow).where(
                    or_(DataFlow.source_app_id == a.id, DataFlow.destination_app_id == a.id)
                )
            )
        )
        return row
    if kind is Kind.VENDORS:
        v = session.scalars(select(Vendor).where(Vendor.name == name)).first()
        if v is None:
            raise NotFoundError(f"no vendor named {name!r}")
        return {
            "id": v.id,
            "name": v.name,
            "website": v.website,
            "domains": list(v.domains or []),
            "description": v.description,
            "apps": sorted(session.scalars(select(App.name).where(App.vendor_id == v.id))),
        }
    if kind is Kind.INTEGRATIONS:
        i = session.scalars(select(Integration).where(Integration.name == name)).first()
        if i is None:
            raise NotFoundError(f"no integration named {name!r}")
        row = _integration_row(i, apps, people)
        row["credentials"] = [
            {"name": c.name, "kind": c.kind.value, "ref": c.ref}
            for c in session.scalars(
                select(Credential)
                .where(Credential.integration_id == i.id)
                .order_by(Credential.name)
            )
        ]
        row["flows"] = sorted(
            session.scalars(select(DataFlow.name).where(DataFlow.integration_id == i.id))
        )
        return row
    if kind is Kind.CREDENTIALS:
        c = session.scalars(select(Credential).where(Credential.name == name)).first()
        if c is None:
            raise NotFoundError(f"no credential named {name!r}")
        return _credential_row(c, integrations)
    if kind is Kind.FLOWS:
        flows = list(session.scalars(select(DataFlow).where(DataFlow.name == name)))
        if not flows:
            raise NotFoundError(f"no data flow named {name!r}")
        # A declared and an observed flow may share a name; show the declared one first.
        flows.sort(key=lambda x: x.origin.value)
        return _flow_row(flows[0], apps, integrations)
    p = session.scalars(select(Person).where(func.lower(Person.email) == name.lower())).first()
    if p is None:
        raise NotFoundError(f"no person with e-mail {name!r}")
    row = _person_row(p)
    row["owns_apps"] = sorted(session.scalars(select(App.name).where(App.owner_id == p.id)))
    row["owns_integrations"] = sorted(
        session.scalars(select(Integration.name).where(Integration.owner_id == p.id))
    )
    return row


def summarise(session: Session) -> list[dict[str, Any]]:
    """One row per kind with its count and the breakdown people ask for first
    (unsanctioned apps, quarantined integrations, flows per data class...)."""

    def count(query: Any) -> int:
        return int(session.scalar(query) or 0)

    def total(model: Any) -> int:
        return count(select(func.count()).select_from(model))

    statuses = {
        str(getattr(k, "value", k)): int(v)
        for k, v in session.execute(
            select(Integration.status, func.count()).group_by(Integration.status)
        )
    }
    service_accounts = count(
        select(func.count()).select_from(Integration).where(Integration.kind == "service_account")
    )
    unsanctioned = count(select(func.count()).select_from(App).where(App.sanctioned.is_(False)))
    per_class = {c.label: 0 for c in DataClass}
    observed = 0
    for classes, origin in session.execute(select(DataFlow.data_classes, DataFlow.origin)):
        observed += origin.value == "observed"
        for label in classes or []:
            if label in per_class:
                per_class[label] += 1
    inactive = count(select(func.count()).select_from(Person).where(Person.active.is_(False)))
    in_vault = count(
        select(func.count()).select_from(Credential).where(Credential.ref.like("vault:%"))
    )

    def detail(parts: dict[str, int]) -> str:
        return ", ".join(f"{v} {k}" for k, v in parts.items() if v)

    return [
        {"kind": "people", "count": total(Person), "detail": detail({"inactive": inactive})},
        {"kind": "vendors", "count": total(Vendor), "detail": ""},
        {"kind": "apps", "count": total(App), "detail": detail({"unsanctioned": unsanctioned})},
        {
            "kind": "integrations",
            "count": total(Integration),
            "detail": detail({**statuses, "service accounts": service_accounts}),
        },
        {
            "kind": "credentials",
            "count": total(Credential),
            "detail": detail({"in the vault": in_vault}),
        },
        {
            "kind": "flows",
            "count": total(DataFlow),
            "detail": detail({**per_class, "observed": observed}),
        },
    ]


__all__ = ["COLUMNS", "FILTERS", "Filters", "Kind", "list_rows", "show", "summarise"]
