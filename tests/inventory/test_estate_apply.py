"""plan / apply / export on SQLite and PostgreSQL: idempotent, one transaction, audited."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ringfence.core.errors import ConflictError
from ringfence.inventory.estate import (
    EstateInvalid,
    apply_estate,
    export_estate,
    parse_estate,
    plan_estate,
)
from ringfence.runtime import Runtime
from ringfence.store import audit
from ringfence.store.models import (
    App,
    AuditRecord,
    Credential,
    DataFlow,
    FlowOrigin,
    Integration,
    IntegrationStatus,
    Person,
)
from tests.inventory.helpers import SMALL, fingerprint


def _apply(rt: Runtime, text: str, actor: str = "cli"):  # type: ignore[no-untyped-def]
    return apply_estate(rt.store, parse_estate(text, "estate.yaml"), actor=actor, clock=rt.clock)


def _plan(rt: Runtime, text: str):  # type: ignore[no-untyped-def]
    with rt.store.session() as s:
        return plan_estate(s, parse_estate(text, "estate.yaml"))


def _audit_rows(rt: Runtime) -> list[AuditRecord]:
    with rt.store.session() as s:
        return list(s.scalars(select(AuditRecord).order_by(AuditRecord.seq)))


def test_apply_creates_everything_then_is_idempotent(any_runtime: Runtime) -> None:
    rt = any_runtime
    first = _apply(rt, SMALL, actor="ci-pipeline")
    assert first.counts() == {"create": 9, "update": 0, "delete": 0}
    records = _audit_rows(rt)
    assert len(records) == 9
    assert {r.actor for r in records} == {"ci-pipeline"}
    assert {r.action for r in records} >= {"app.create", "integration.create", "flow.create"}
    # The audit record names the row (its id), like the REST API's records do.
    with rt.store.session() as s:
        crm_id = s.scalars(select(App.id).where(App.name == "CRM")).one()
    assert any(r.entity_id == crm_id and r.action == "app.create" for r in records)
    assert audit.verify(rt.store).ok

    before = fingerprint(rt.store)
    second = _apply(rt, SMALL)
    assert second.is_empty
    assert fingerprint(rt.store) == before
    assert _plan(rt, SMALL).is_empty


def test_update_shows_field_level_diff_and_audits_before_after(any_runtime: Runtime) -> None:
    rt = any_runtime
    _apply(rt, SMALL)
    changed = SMALL.replace(
        '    scopes: ["chat:write"]', '    scopes: ["chat:write", "users:read"]'
    )
    changed = changed.replace("    clearance: confidential\n", "    clearance: restricted\n")
    plan = _plan(rt, changed)
    assert plan.counts() == {"create": 0, "update": 2, "delete": 0}
    by_name = {c.name: c for c in plan.changes}
    (scopes,) = by_name["crm-to-chat"].fields
    assert (scopes.field, scopes.before, scopes.after) == (
        "scopes",
        ["chat:write"],
        ["chat:write", "users:read"],
    )
    (clearance,) = by_name["CRM"].fields
    assert (clearance.before, clearance.after) == ("confidential", "restricted")
    n = len(_audit_rows(rt))
    _apply(rt, changed)
    rows = _audit_rows(rt)[n:]
    assert [r.action for r in rows] == ["app.update", "integration.update"]
    assert rows[1].before is not None and rows[1].after is not None
    assert rows[1].before["scopes"] == ["chat:write"]
    assert rows[1].after["scopes"] == ["chat:write", "users:read"]
    with rt.store.session() as s:
        app = s.scalars(select(App).where(App.name == "CRM")).one()
        assert app.clearance == 3
    assert _plan(rt, changed).is_empty


def test_entries_missing_from_the_file_are_deleted_but_observed_flows_stay(
    any_runtime: Runtime,
) -> None:
    rt = any_runtime
    _apply(rt, SMALL)
    with rt.store.session() as s:
        crm = s.scalars(select(App).where(App.name == "CRM")).one()
        chat = s.scalars(select(App).where(App.name == "Chat")).one()
        s.add(
            DataFlow(
                name="deals-to-chat",
                source_app_id=crm.id,
                destination_app_id=chat.id,
                data_classes=["confidential"],
                origin=FlowOrigin.OBSERVED,
                first_seen=rt.clock.now(),
            )
        )
    smaller = SMALL.split("credentials:\n")[0] + "credentials: []\nflows: []\n"
    plan = _plan(rt, smaller)
    assert plan.counts() == {"create": 0, "update": 0, "delete": 2}
    assert {(c.section, c.name) for c in plan.changes} == {
        ("credentials", "chat-bot-token"),
        ("flows", "deals-to-chat"),
    }
    _apply(rt, smaller)
    with rt.store.session() as s:
        origins = list(s.scalars(select(DataFlow.origin)))
        assert origins == [FlowOrigin.OBSERVED]
        assert s.scalar(select(func.count()).select_from(Credential)) == 0
    assert _plan(rt, smaller).is_empty


def test_deleting_an_app_that_observed_traffic_uses_is_refused_and_rolls_back(
    any_runtime: Runtime,
) -> None:
    rt = any_runtime
    _apply(rt, SMALL)
    with rt.store.session() as s:
        crm = s.scalars(select(App).where(App.name == "CRM")).one()
        chat = s.scalars(select(App).where(App.name == "Chat")).one()
        s.add(
            DataFlow(
                name="seen",
                source_app_id=crm.id,
                destination_app_id=chat.id,
                data_classes=["internal"],
                origin=FlowOrigin.OBSERVED,
            )
        )
    before = fingerprint(rt.store)
    without_chat = (
        SMALL.split("  - name: Chat\n")[0] + "integrations: []\ncredentials: []\nflows: []\n"
    )
    # The plan itself is fine (integrations, credentials, flows and Chat go away) ...
    assert _plan(rt, without_chat).counts()["delete"] == 4
    # ... but the app still carries observed traffic: the whole apply is refused.
    with pytest.raises(ConflictError, match="observed data flow"):
        _apply(rt, without_chat)
    assert fingerprint(rt.store) == before


def test_absent_sections_are_not_managed_and_references_check_the_store(
    runtime: Runtime,
) -> None:
    rt = runtime
    _apply(rt, SMALL)
    only_flows = (
        "apiVersion: ringfence/v1\nflows:\n"
        "  - {name: deals-to-chat, source: CRM, destination: Chat, integration: crm-to-chat,"
        " data_classes: [internal, confidential]}\n"
    )
    plan = _plan(rt, only_flows)
    assert plan.counts() == {"create": 0, "update": 1, "delete": 0}
    assert "apps" in plan.unmanaged and "flows" in plan.managed
    # A reference to something neither the file nor the store has is still an error.
    dangling = only_flows.replace("source: CRM", "source: ERP")
    with pytest.raises(
        EstateInvalid, match=r"estate.yaml:3:35: flows\[0\].*unknown app 'ERP' \(not in the store"
    ):
        _apply(rt, dangling)


def test_runtime_status_is_kept_unless_the_file_sets_it(runtime: Runtime) -> None:
    rt = runtime
    _apply(rt, SMALL)
    with rt.store.session() as s:
        integ = s.scalars(select(Integration).where(Integration.name == "crm-to-chat")).one()
        integ.status = IntegrationStatus.QUARANTINED
        person = s.scalars(select(Person).where(Person.email == "bob@northwind.example")).one()
        person.active = False
    # Incident response quarantined it; re-applying the file must not undo that.
    assert _plan(rt, SMALL).is_empty
    exported = export_estate(rt.store)
    assert "status: quarantined" in exported and "active: false" in exported
    revived = SMALL.replace(
        "    client_id: client-1\n", "    client_id: client-1\n    status: active\n"
    )
    plan = _plan(rt, revived)
    (change,) = plan.changes
    assert [(f.field, f.before, f.after) for f in change.fields] == [
        ("status", "quarantined", "active")
    ]


def test_export_round_trip_gives_an_empty_plan(any_runtime: Runtime) -> None:
    rt = any_runtime
    _apply(rt, SMALL)
    text = export_estate(rt.store)
    assert "vault:slack/bot" in text
    assert _plan(rt, text).is_empty
    # And the export of an applied export is the same text.
    _apply(rt, text)
    assert export_estate(rt.store) == text


def test_machine_identities_can_move_between_integrations(any_runtime: Runtime) -> None:
    rt = any_runtime
    two = SMALL.replace(
        "credentials:\n",
        "  - name: other\n    source: Chat\n    destination: CRM\n    client_id: client-2\n"
        "credentials:\n",
    )
    _apply(rt, two)
    swapped = (
        two.replace("client_id: client-1", "client_id: TMP")
        .replace("client_id: client-2", "client_id: client-1")
        .replace("client_id: TMP", "client_id: client-2")
    )
    assert _apply(rt, swapped).counts()["update"] == 2
    renamed = swapped.replace("  - name: other\n", "  - name: other-renamed\n")
    plan = _apply(rt, renamed)
    assert plan.counts() == {"create": 1, "update": 0, "delete": 1}
    assert _plan(rt, renamed).is_empty


def test_people_match_by_email_case_insensitively(runtime: Runtime) -> None:
    rt = runtime
    with rt.store.session() as s:
        # As an identity provider might have provisioned them.
        s.add(Person(email="Ada@Northwind.example", name="Ada Lovelace", department="Security"))
    only_apps = SMALL.split("integrations:\n")[0].replace(
        "people:\n  - email: ada@northwind.example\n    name: Ada Lovelace\n"
        "    department: Security\n  - email: bob@northwind.example\n    name: Bob\n",
        "",
    )
    assert "people:" not in only_apps
    # The owner reference resolves against the stored, differently cased e-mail ...
    plan = _apply(rt, only_apps)
    assert {c.section for c in plan.changes} == {"vendors", "apps"}
    with rt.store.session() as s:
        owner = s.scalars(select(App.owner_id).where(App.name == "CRM")).one()
        assert owner is not None
    # ... and declaring the person matches it instead of creating a second one.
    with_people = "apiVersion: ringfence/v1\npeople:\n" + (
        "  - {email: ada@northwind.example, name: Ada Lovelace, department: Security}\n"
    )
    assert _plan(rt, with_people).is_empty
    renamed = with_people.replace("Ada Lovelace", "Ada King")
    _apply(rt, renamed)
    with rt.store.session() as s:
        assert [p.name for p in s.scalars(select(Person))] == ["Ada King"]
