"""The built-in estate sections: how people, vendors, apps, integrations, credentials and
declared data flows are read from and written to the store.

Registered exactly like a capability's extension section. References are by name (e-mail for
people) in the file and by id in the store; this module translates between the two. It never
touches an observed data flow and never stores anything but a credential's reference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from ringfence.core.errors import ConflictError
from ringfence.core.levels import DataClass
from ringfence.inventory.repository import record_cascade, revoke_waiting, vendor_records
from ringfence.inventory.schema import (
    AppSpec,
    CredentialSpec,
    FlowSpec,
    IntegrationSpec,
    PersonSpec,
    VendorSpec,
)
from ringfence.inventory.sections import (
    ApplyContext,
    EstateSection,
    EstateView,
    SectionProblem,
    register_plan_check,
    register_section,
)
from ringfence.store.models import (
    App,
    Credential,
    CredentialKind,
    DataFlow,
    FlowOrigin,
    Integration,
    IntegrationKind,
    IntegrationStatus,
    Person,
    Vendor,
)

Current = dict[str, dict[str, Any]]


def _ids(session: Session, model: Any, column: Any, names: set[str]) -> dict[str, str]:
    if not names:
        return {}
    rows = session.execute(select(column, model.id).where(column.in_(sorted(names))))
    return {str(k): str(v) for k, v in rows}


def _pairs(session: Session, query: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in session.execute(query)}


def _need(mapping: Mapping[str, str], name: str | None, what: str) -> str | None:
    if name is None:
        return None
    try:
        return mapping[name]
    except KeyError:
        # Validation checks references first; reaching this means a concurrent change.
        raise ConflictError(f"{what} {name!r} does not exist (changed concurrently?)") from None


def _missing(
    items: Sequence[Any], estate: EstateView, field: str, section: str, what: str, hint: str
) -> list[SectionProblem]:
    problems: list[SectionProblem] = []
    for i, item in enumerate(items):
        value = getattr(item, field)
        if value is not None and not estate.has(section, value):
            advice = (
                f"declare it under {hint}"
                if estate.declares(section)
                else f"not in the store, and this file has no {hint} section"
            )
            problems.append(SectionProblem(i, field, f"unknown {what} {value!r} ({advice})"))
    return problems


# --- people ---------------------------------------------------------------------------------


def _load_people(session: Session) -> Current:
    return {
        p.email: {"email": p.email, "name": p.name, "department": p.department, "active": p.active}
        for p in session.scalars(select(Person))
    }


def _apply_people(
    session: Session,
    creates: Sequence[PersonSpec],
    updates: Sequence[PersonSpec],
    deletes: Sequence[str],
    ctx: ApplyContext,
) -> None:
    # E-mail is the key, case-insensitively: SCIM may have stored "Ada@X" for "ada@x".
    wanted = [u.email for u in updates] + list(deletes)
    existing = {
        p.email.lower(): p
        for p in session.scalars(select(Person).where(func.lower(Person.email).in_(wanted)))
    }
    for spec in creates:
        session.add(
            Person(
                email=spec.email,
                name=spec.name,
                department=spec.department,
                active=True if spec.active is None else spec.active,
            )
        )
    for spec in updates:
        person = existing[spec.email]
        person.name = spec.name
        person.department = spec.department
        if spec.active is not None and spec.active != person.active:
            person.active = spec.active
            person.deactivated_at = None if spec.active else ctx.clock.now()
    for email in deletes:
        session.delete(existing[email])


# --- vendors --------------------------------------------------------------------------------


def _load_vendors(session: Session) -> Current:
    return {
        v.name: {
            "name": v.name,
            "website": v.website,
            "domains": list(v.domains or []),
            "description": v.description,
        }
        for v in session.scalars(select(Vendor))
    }


def _apply_vendors(
    session: Session,
    creates: Sequence[VendorSpec],
    updates: Sequence[VendorSpec],
    deletes: Sequence[str],
    ctx: ApplyContext,
) -> None:
    names = [u.name for u in updates] + list(deletes)
    existing = {v.name: v for v in session.scalars(select(Vendor).where(Vendor.name.in_(names)))}
    for spec in creates:
        existing[spec.name] = Vendor(name=spec.name)
        session.add(existing[spec.name])
    for spec in [*creates, *updates]:
        vendor = existing[spec.name]
        vendor.website = spec.website
        vendor.domains = list(spec.domains)
        vendor.description = spec.description
    for name in deletes:
        apps = session.scalar(
            select(func.count()).select_from(App).where(App.vendor_id == existing[name].id)
        )
        if apps:
            raise ConflictError(
                f"vendor {name!r} cannot be deleted: {apps} app(s) not removed by this file "
                "still belong to it"
            )
        held = vendor_records(session, existing[name].id)
        if held:
            raise ConflictError(
                f"vendor {name!r} cannot be deleted: it holds "
                + ", ".join(f"{n} {table}" for table, n in held)
                + " record(s) that deleting it would destroy (questionnaire answers, evidence); "
                "to rename it, rename it through the API (PATCH /api/v1/vendors/{ref}) first"
            )
        session.delete(existing[name])


# --- apps -----------------------------------------------------------------------------------


def _load_apps(session: Session) -> Current:
    vendors = _pairs(session, select(Vendor.id, Vendor.name))
    people = _pairs(session, select(Person.id, Person.email))
    return {
        a.name: {
            "name": a.name,
            "vendor": vendors[a.vendor_id],
            "category": a.category,
            "base_urls": list(a.base_urls or []),
            "sanctioned": a.sanctioned,
            "owner": people.get(a.owner_id) if a.owner_id else None,
            "clearance": DataClass.parse(a.clearance).label,
            "data_classes": list(a.data_classes or []),
            "retention_days": dict(a.retention_days or {}),
        }
        for a in session.scalars(select(App))
    }


def _apply_apps(
    session: Session,
    creates: Sequence[AppSpec],
    updates: Sequence[AppSpec],
    deletes: Sequence[str],
    ctx: ApplyContext,
) -> None:
    specs = [*creates, *updates]
    vendors = _ids(session, Vendor, Vendor.name, {s.vendor for s in specs})
    people = _ids(session, Person, func.lower(Person.email), {s.owner for s in specs if s.owner})
    names = [s.name for s in updates] + list(deletes)
    existing = {a.name: a for a in session.scalars(select(App).where(App.name.in_(names)))}
    for spec in specs:
        app = existing.get(spec.name)
        if app is None:
            app = App(name=spec.name)
            session.add(app)
        app.vendor_id = _need(vendors, spec.vendor, "vendor") or ""
        app.category = spec.category
        app.base_urls = list(spec.base_urls)
        app.sanctioned = spec.sanctioned
        app.owner_id = _need(people, spec.owner, "person")
        app.clearance = int(DataClass.parse(spec.clearance))
        app.data_classes = list(spec.data_classes)
        app.retention_days = {str(k): v for k, v in spec.retention_days.items()}
    for name in deletes:
        app = existing[name]
        observed = session.scalars(
            select(DataFlow.name).where(
                DataFlow.origin == FlowOrigin.OBSERVED,
                (DataFlow.source_app_id == app.id) | (DataFlow.destination_app_id == app.id),
            )
        ).all()
        if observed:
            raise ConflictError(
                f"app {name!r} cannot be deleted: {len(observed)} observed data flow(s) use it "
                f"(e.g. {observed[0]!r}); keep it in the file (sanctioned: false if unwanted)"
            )
        session.delete(app)


def _check_apps(items: Sequence[AppSpec], estate: EstateView) -> list[SectionProblem]:
    return _missing(items, estate, "vendor", "vendors", "vendor", "vendors:") + _missing(
        items, estate, "owner", "people", "person", "people:"
    )


# --- integrations ---------------------------------------------------------------------------


def _load_integrations(session: Session) -> Current:
    apps = _pairs(session, select(App.id, App.name))
    people = _pairs(session, select(Person.id, Person.email))
    return {
        i.name: {
            "name": i.name,
            "kind": i.kind.value,
            "source": apps[i.source_app_id] if i.source_app_id else None,
            "destination": apps[i.destination_app_id],
            "owner": people.get(i.owner_id) if i.owner_id else None,
            "client_id": i.client_id,
            "status": i.status.value,
            "scopes": list(i.scopes or []),
            "data_classes": list(i.data_classes or []),
            "description": i.description,
        }
        for i in session.scalars(select(Integration))
    }


def _apply_integrations(
    session: Session,
    creates: Sequence[IntegrationSpec],
    updates: Sequence[IntegrationSpec],
    deletes: Sequence[str],
    ctx: ApplyContext,
) -> None:
    specs = [*creates, *updates]
    app_names = {s.destination for s in specs} | {s.source for s in specs if s.source}
    apps = _ids(session, App, App.name, app_names)
    people = _ids(session, Person, func.lower(Person.email), {s.owner for s in specs if s.owner})
    client_ids = [s.client_id for s in specs if s.client_id]
    if client_ids:
        # Machine identities are unique; free every id this apply (re)assigns first so a
        # rename or a swap between two integrations does not trip the unique constraint.
        session.execute(
            update(Integration).where(Integration.client_id.in_(client_ids)).values(client_id=None)
        )
        session.flush()
    names = [s.name for s in updates] + list(deletes)
    existing = {
        i.name: i for i in session.scalars(select(Integration).where(Integration.name.in_(names)))
    }
    for spec in specs:
        integ = existing.get(spec.name)
        if integ is None:
            integ = Integration(name=spec.name, status=IntegrationStatus(spec.status or "active"))
            session.add(integ)
        elif spec.status is not None:
            integ.status = IntegrationStatus(spec.status)
        integ.kind = IntegrationKind(spec.kind)
        integ.source_app_id = _need(apps, spec.source, "app")
        integ.destination_app_id = _need(apps, spec.destination, "app") or ""
        integ.owner_id = _need(people, spec.owner, "person")
        integ.client_id = spec.client_id
        integ.scopes = list(spec.scopes)
        integ.data_classes = list(spec.data_classes)
        integ.description = spec.description
    for name in deletes:
        # the gateway clients the cascade deletes with it stay in the audit log
        record_cascade(session, existing[name].id, name, actor=ctx.actor, clock=ctx.clock)
        session.delete(existing[name])


def _check_integrations(
    items: Sequence[IntegrationSpec], estate: EstateView
) -> list[SectionProblem]:
    problems = (
        _missing(items, estate, "source", "apps", "app", "apps:")
        + _missing(items, estate, "destination", "apps", "app", "apps:")
        + _missing(items, estate, "owner", "people", "person", "people:")
    )
    seen: dict[str, str] = {}
    for i, item in enumerate(items):
        if item.client_id is None:
            continue
        if item.client_id in seen:
            problems.append(
                SectionProblem(
                    i,
                    "client_id",
                    f"machine identity {item.client_id!r} is already used by integration "
                    f"{seen[item.client_id]!r}; client ids are unique",
                )
            )
        else:
            seen[item.client_id] = item.name
    return problems


# --- credentials ----------------------------------------------------------------------------


def _as_datetime(value: date | None) -> datetime | None:
    return None if value is None else datetime.combine(value, time.min, tzinfo=UTC)


def _load_credentials(session: Session) -> Current:
    integrations = _pairs(session, select(Integration.id, Integration.name))
    return {
        c.name: {
            "name": c.name,
            "kind": c.kind.value,
            "integration": integrations.get(c.integration_id) if c.integration_id else None,
            "ref": c.ref,
            "rotation_days": c.rotation_days,
            "expires_at": c.expires_at.date() if c.expires_at else None,
        }
        for c in session.scalars(select(Credential))
    }


def _apply_credentials(
    session: Session,
    creates: Sequence[CredentialSpec],
    updates: Sequence[CredentialSpec],
    deletes: Sequence[str],
    ctx: ApplyContext,
) -> None:
    specs = [*creates, *updates]
    integrations = _ids(
        session, Integration, Integration.name, {s.integration for s in specs if s.integration}
    )
    names = [s.name for s in updates] + list(deletes)
    existing = {
        c.name: c for c in session.scalars(select(Credential).where(Credential.name.in_(names)))
    }
    for spec in specs:
        cred = existing.get(spec.name)
        if cred is None:
            cred = Credential(name=spec.name, kind=CredentialKind(spec.kind), ref=spec.ref)
            session.add(cred)
        cred.kind = CredentialKind(spec.kind)
        cred.integration_id = _need(integrations, spec.integration, "integration")
        cred.ref = spec.ref
        cred.rotation_days = spec.rotation_days
        # Keep a stored expiry's time of day when the declared date is the same.
        if (cred.expires_at.date() if cred.expires_at else None) != spec.expires_at:
            cred.expires_at = _as_datetime(spec.expires_at)
    for name in deletes:
        session.delete(existing[name])


def _check_credentials(items: Sequence[CredentialSpec], estate: EstateView) -> list[SectionProblem]:
    return _missing(items, estate, "integration", "integrations", "integration", "integrations:")


# --- data flows -----------------------------------------------------------------------------


def _load_flows(session: Session) -> Current:
    apps = _pairs(session, select(App.id, App.name))
    integrations = _pairs(session, select(Integration.id, Integration.name))
    return {
        f.name: {
            "name": f.name,
            "source": apps[f.source_app_id],
            "destination": apps[f.destination_app_id],
            "integration": integrations.get(f.integration_id) if f.integration_id else None,
            "data_classes": list(f.data_classes or []),
        }
        for f in session.scalars(select(DataFlow).where(DataFlow.origin == FlowOrigin.DECLARED))
    }


def _apply_flows(
    session: Session,
    creates: Sequence[FlowSpec],
    updates: Sequence[FlowSpec],
    deletes: Sequence[str],
    ctx: ApplyContext,
) -> None:
    specs = [*creates, *updates]
    apps = _ids(session, App, App.name, {s.source for s in specs} | {s.destination for s in specs})
    integrations = _ids(
        session, Integration, Integration.name, {s.integration for s in specs if s.integration}
    )
    names = [s.name for s in updates]
    existing = {
        f.name: f
        for f in session.scalars(
            select(DataFlow).where(DataFlow.origin == FlowOrigin.DECLARED, DataFlow.name.in_(names))
        )
    }
    for spec in specs:
        flow = existing.get(spec.name)
        if flow is None:
            flow = DataFlow(name=spec.name, origin=FlowOrigin.DECLARED)
            session.add(flow)
        flow.source_app_id = _need(apps, spec.source, "app") or ""
        flow.destination_app_id = _need(apps, spec.destination, "app") or ""
        flow.integration_id = _need(integrations, spec.integration, "integration")
        flow.data_classes = list(spec.data_classes)
    if deletes:
        # Only declared flows: what traffic revealed stays, whatever the file says.
        session.execute(
            delete(DataFlow).where(
                DataFlow.origin == FlowOrigin.DECLARED, DataFlow.name.in_(list(deletes))
            )
        )


def _check_flows(items: Sequence[FlowSpec], estate: EstateView) -> list[SectionProblem]:
    problems = (
        _missing(items, estate, "source", "apps", "app", "apps:")
        + _missing(items, estate, "destination", "apps", "app", "apps:")
        + _missing(items, estate, "integration", "integrations", "integration", "integrations:")
    )
    # A flow through an integration moves data between the apps that integration connects
    # (in either direction: a connector that reads an app moves data towards itself).
    doors: dict[str, set[str]] = {
        i.name: {a for a in (i.source, i.destination) if a is not None}
        for i in estate.items("integrations")
        if isinstance(i, IntegrationSpec)
    }
    for index, flow in enumerate(items):
        apps = doors.get(flow.integration or "")
        if apps is None:
            continue
        if not apps <= {flow.source, flow.destination}:
            problems.append(
                SectionProblem(
                    index,
                    "integration",
                    f"integration {flow.integration!r} connects {' and '.join(sorted(apps))}; "
                    f"a flow through it must go between those apps",
                )
            )
    return problems


def _ids_of(model: Any, column: Any, *where: Any) -> Any:
    def ids(session: Session) -> dict[str, str]:
        return _pairs(session, select(column, model.id).where(*where))

    return ids


BUILTIN_SECTIONS: tuple[EstateSection[Any], ...] = (
    EstateSection(
        key="people",
        model=PersonSpec,
        load_current=_load_people,
        apply=_apply_people,
        ids=_ids_of(Person, func.lower(Person.email)),
        order=10,
        key_field="email",
        entity_type="person",
        keep_when_unset={"active": True},
        description="People who own apps and integrations, identified by e-mail.",
    ),
    EstateSection(
        key="vendors",
        model=VendorSpec,
        load_current=_load_vendors,
        apply=_apply_vendors,
        ids=_ids_of(Vendor, Vendor.name),
        order=20,
        entity_type="vendor",
        description="Companies that provide SaaS apps.",
    ),
    EstateSection(
        key="apps",
        model=AppSpec,
        load_current=_load_apps,
        apply=_apply_apps,
        ids=_ids_of(App, App.name),
        check_references=_check_apps,
        order=30,
        entity_type="app",
        description="SaaS applications.",
    ),
    EstateSection(
        key="integrations",
        model=IntegrationSpec,
        load_current=_load_integrations,
        apply=_apply_integrations,
        ids=_ids_of(Integration, Integration.name),
        check_references=_check_integrations,
        order=40,
        entity_type="integration",
        keep_when_unset={"status": "active"},
        description="Integrations between apps and service accounts calling apps.",
    ),
    EstateSection(
        key="credentials",
        model=CredentialSpec,
        load_current=_load_credentials,
        apply=_apply_credentials,
        ids=_ids_of(Credential, Credential.name),
        check_references=_check_credentials,
        order=50,
        entity_type="credential",
        description="Credential references (vault:NAME or ${env:NAME}), never secrets.",
    ),
    EstateSection(
        key="flows",
        model=FlowSpec,
        load_current=_load_flows,
        apply=_apply_flows,
        ids=_ids_of(DataFlow, DataFlow.name, DataFlow.origin == FlowOrigin.DECLARED),
        check_references=_check_flows,
        order=60,
        entity_type="flow",
        description="Declared data flows (observed flows are never touched by apply).",
    ),
)

for _section in BUILTIN_SECTIONS:
    register_section(_section)


def _revoked_is_final(session: Session, changes: Sequence[Any]) -> list[tuple[str, str, str, str]]:
    """A revoked integration stays revoked: the file cannot set it active or quarantined again
    (the REST API's /activate refuses it too). Register a new integration instead."""
    return [
        (
            "integrations",
            c.name,
            "status",
            f"integration {c.name!r} is revoked, which is final; register a new integration "
            "(with new credentials) instead, or set status: revoked",
        )
        for c in changes
        if c.section == "integrations" and c.action == "update"
        for f in c.fields
        if f.field == "status" and f.before == IntegrationStatus.REVOKED.value
    ]


register_plan_check("inventory.revoked_is_final", _revoked_is_final)


def _revoked_is_kept(session: Session, changes: Sequence[Any]) -> list[tuple[str, str, str, str]]:
    """A revoked integration is kept (session 14): a file that leaves it out of its
    ``integrations:`` section would delete it — its gateway clients, keys and review items
    with it (database cascade) — and free its name and client_id for a new, active one; so
    would a file that clears or hands over its client_id. Nor is an integration whose revoke
    waits for a second person deleted (that would set the request aside). The REST API's
    DELETE refuses the same (409 revoked_is_final / revoke_pending)."""
    revoked = IntegrationStatus.REVOKED.value
    problems: list[tuple[str, str, str, str]] = []
    for c in changes:
        if c.section != "integrations":
            continue
        if c.action == "delete" and (c.before or {}).get("status") != revoked:
            integration_id = session.scalar(
                select(Integration.id).where(Integration.name == c.name)
            )
            waiting = revoke_waiting(session, integration_id) if integration_id else None
            if waiting is not None:
                problems.append(
                    (
                        "integrations",
                        c.name,
                        "name",
                        f"a revoke of integration {c.name!r} waits for a second person "
                        f"(incident {waiting[0]}, step {waiting[1]}): leaving it out of the "
                        "file would delete it and set that request aside; approve or skip "
                        "the step first",
                    )
                )
            continue
        if (c.before or {}).get("status") != revoked:
            continue
        if c.action == "delete":
            problems.append(
                (
                    "integrations",
                    c.name,
                    "name",
                    f"integration {c.name!r} is revoked, which is final: it is kept as the "
                    "record of what was revoked (gateway clients, review decisions, "
                    "incidents) and cannot be deleted; keep it in the file with "
                    "status: revoked",
                )
            )
        elif c.action == "update" and any(f.field == "client_id" for f in c.fields):
            problems.append(
                (
                    "integrations",
                    c.name,
                    "client_id",
                    f"integration {c.name!r} is revoked, which is final: its client_id stays "
                    "its own and is never given to another integration",
                )
            )
    return problems


register_plan_check("inventory.revoked_is_kept", _revoked_is_kept)


def _names_are_not_ids(session: Session, changes: Sequence[Any]) -> list[tuple[str, str, str, str]]:
    """Lookups take "id or name", and the responder maps an alert's entity to an integration
    by name or OAuth client id: a vendor, app or integration named like another's id, or an
    integration named like another's client id (or given another's name as its client id),
    would make them pick the wrong one (quarantine the wrong integration). Only what this
    plan creates or changes is checked, against the store as the plan leaves it."""
    problems: list[tuple[str, str, str, str]] = []
    for key, model in (("vendors", Vendor), ("apps", App), ("integrations", Integration)):
        mine = [c for c in changes if c.section == key]
        if not mine:
            continue
        gone = {c.name for c in mine if c.action == "delete"}
        columns: list[Any] = [model.id, model.name]
        if model is Integration:
            columns.append(Integration.client_id)
        rows: list[tuple[str, str, str | None]] = [
            (str(r[0]), str(r[1]), r[2] if len(r) > 2 else None)
            for r in session.execute(select(*columns))
            if str(r[1]) not in gone
        ]
        client_ids = {n: cid for _, n, cid in rows}
        for c in mine:
            if c.action != "delete" and c.after is not None:
                client_ids[c.name] = c.after.get("client_id") if key == "integrations" else None
        ids = {n: i for i, n, _ in rows}
        kind = key[:-1]
        for c in mine:
            if c.action == "delete":
                continue
            changed = {f.field for f in c.fields}
            if c.action == "create":
                for other, other_id in ids.items():
                    if other != c.name and other_id == c.name:
                        problems.append(
                            (key, c.name, "name", _ambiguous(kind, "name", c.name, "id", other))
                        )
            if key != "integrations":
                continue
            own_cid = client_ids.get(c.name)
            for other, other_cid in client_ids.items():
                if other == c.name:
                    continue
                if c.action == "create" and other_cid is not None and other_cid == c.name:
                    problems.append(
                        (key, c.name, "name", _ambiguous(kind, "name", c.name, "client_id", other))
                    )
                if (c.action == "create" or "client_id" in changed) and own_cid is not None:
                    if own_cid == other:
                        problems.append(
                            (
                                key,
                                c.name,
                                "client_id",
                                _ambiguous(kind, "client_id", own_cid, "name", other),
                            )
                        )
                    elif own_cid == ids.get(other):
                        problems.append(
                            (
                                key,
                                c.name,
                                "client_id",
                                _ambiguous(kind, "client_id", own_cid, "id", other),
                            )
                        )
    return problems


def _ambiguous(kind: str, field: str, value: str, label: str, other: str) -> str:
    return (
        f"{kind} {field} {value!r} is the {label} of {kind} {other!r}: lookups by id or name "
        "(and the responder's alert-to-integration mapping) would take one for the other"
    )


register_plan_check("inventory.names_are_not_ids", _names_are_not_ids)
