"""``rotate_client_secret``: a new app secret at the vendor, in the vault, the old ones gone.

Against the loopback Okta and Microsoft Graph fakes, which speak the vendors' API shapes
(Okta: at most two secrets per app, an active one cannot be deleted; Graph: addPassword returns
the text once, removePassword by keyId).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from ringfence.connectors import ConnectorConfig
from ringfence.core.clock import FixedClock
from ringfence.demo.fakes import connector_settings
from ringfence.inventory.estate import EstateInvalid, apply_estate, parse_estate
from ringfence.respond import Responder
from ringfence.runtime import Runtime
from ringfence.store.models import AuditRecord, Credential
from tests.respond.test_respond import ESTATE


def _estate(client_id: str, vendor: str, ref: str = "vault:crm/client-secret") -> str:
    text = ESTATE.replace("client_id: crm-sync-cid", f"client_id: {client_id}")
    text = text.replace(
        "      - {action: revoke_integration, approve: true}\n",
        f"      - {{action: rotate_client_secret, vendor: {vendor}}}\n"
        "      - {action: revoke_integration, approve: true}\n",
    )
    return text + (
        "credentials:\n"
        "  - {name: crm-secret, kind: oauth_client_secret, integration: crm-sync, "
        f"ref: '{ref}'}}\n"
    )


def _config(vendor: str, url: str) -> ConnectorConfig:
    base_url, options = connector_settings(vendor, url)
    return ConnectorConfig(
        vendor=vendor, base_url=base_url, credential_ref="env:RF_TEST_SAAS_TOKEN", options=options
    )


def _open(r: Responder, *, drill: bool = False) -> str:
    """Open the incident as alice; bob approves the rotation (irreversible: it always waits for
    a second person since session 12, whatever the playbook says)."""
    incident = r.start("contain-integration", "crm-sync", actor="alice", drill=drill)
    for st in r.show(incident)["steps"]:
        if st["action"] == "rotate_client_secret" and st["status"] == "awaiting_approval":
            r.approve(incident, st["position"], actor="bob")
    return incident


def _step(r: Responder, incident: str) -> dict[str, Any]:
    steps = r.show(incident)["steps"]
    return next(st for st in steps if st["action"] == "rotate_client_secret")


@pytest.mark.parametrize(
    ("vendor", "client_id", "app_id"),
    [
        ("okta", "hr-insights-client", "0oa5hrinsights"),
        ("microsoft365", "nw-reporting-daemon", "obj-reporting"),
    ],
)
def test_rotation_stores_the_new_secret_then_removes_the_old(
    runtime: Runtime,
    clock: FixedClock,
    fakes: dict[str, Any],
    vendor: str,
    client_id: str,
    app_id: str,
) -> None:
    server = fakes[vendor]
    fake = server.fake
    apply_estate(runtime.store, parse_estate(_estate(client_id, vendor)), actor="t", clock=clock)
    runtime.vault.put("crm/client-secret", "the-leaked-secret")
    r = Responder(
        runtime.store, runtime.vault, clock, connectors={vendor: _config(vendor, server.url)}
    )

    drill = _open(r, drill=True)
    step = _step(r, drill)
    assert step["status"] == "done" and step["result"]["app"] == app_id, step
    assert fake.actions == []  # a drill only looks the app up
    assert runtime.vault.get("crm/client-secret").get_secret_value() == "the-leaked-secret"

    incident = _open(r)
    step = _step(r, incident)
    assert step["status"] == "done", step
    new_id = step["result"]["new_secret_id"]
    # The vault holds exactly the secret the vendor minted, and it is the app's only one.
    assert runtime.vault.get("crm/client-secret").get_secret_value() == fake.issued[new_id]
    if vendor == "okta":
        left = [x["id"] for x in fake.client_secrets[app_id]]
        assert [a for a, _ in fake.actions] == [
            "add_client_secret",
            "deactivate_client_secret",
            "delete_client_secret",
        ]
    else:
        (app,) = [a for a in fake.applications if a["id"] == app_id]
        left = [c["keyId"] for c in app["passwordCredentials"]]
        assert [a for a, _ in fake.actions] == ["add_password", "remove_password"]
    assert left == [new_id]
    assert len(step["result"]["retired"]) == 1
    # No secret value in the step's result, the timeline or the audit record — neither the
    # new one nor any the vendor listed (Okta's list answers carry the values).
    text = str(r.show(incident))
    assert fake.issued[new_id] not in text and "the-leaked-secret" not in text
    assert "seeded-" not in text
    with runtime.store.session() as s:
        rec = s.scalars(select(AuditRecord).where(AuditRecord.action == "credential.rotate")).one()
        assert rec.after and rec.after["minted"] == new_id
        assert fake.issued[new_id] not in str(rec.after) and "seeded-" not in str(rec.after)
        cred = s.scalars(select(Credential).where(Credential.name == "crm-secret")).one()
        assert cred.rotated_at == clock.now()


def test_entra_rotation_removes_every_credential_that_authenticates_as_the_client(
    runtime: Runtime, clock: FixedClock, fakes: dict[str, Any]
) -> None:
    """An attacker's usual foothold on an Entra app: a certificate on the app registration or
    a secret on its service principal — both accepted by the token endpoint. Rotation removes
    them too; a service principal verification certificate, which cannot be removed without
    resending its signing keys, makes the step fail by name (session 9 review: before, only
    the app's password credentials were removed and the rest stayed valid)."""
    server = fakes["microsoft365"]
    fake = server.fake
    (app,) = [a for a in fake.applications if a["id"] == "obj-reporting"]
    app["keyCredentials"] = [
        {"keyId": "cert-planted", "usage": "Verify", "type": "AsymmetricX509Cert"}
    ]
    sp = fake._sp("sp-reporting", "nw-reporting-daemon", "Northwind reporting", "Northwind", False)
    sp["passwordCredentials"] = [fake._password("planted", -1)]
    planted_sp_secret = sp["passwordCredentials"][0]["keyId"]
    fake.sps.append(sp)
    apply_estate(
        runtime.store,
        parse_estate(_estate("nw-reporting-daemon", "microsoft365")),
        actor="t",
        clock=clock,
    )
    runtime.vault.put("crm/client-secret", "the-leaked-secret")
    r = Responder(
        runtime.store,
        runtime.vault,
        clock,
        connectors={"microsoft365": _config("microsoft365", server.url)},
    )
    incident = _open(r)
    step = _step(r, incident)
    assert step["status"] == "done", step
    retired = step["result"]["retired"]
    assert "certificate:cert-planted" in retired and f"sp-secret:{planted_sp_secret}" in retired
    assert app["keyCredentials"] == [] and sp["passwordCredentials"] == []
    assert [c["keyId"] for c in app["passwordCredentials"]] == [step["result"]["new_secret_id"]]

    # A verification certificate on the service principal: named, and the step fails.
    sp["keyCredentials"] = [{"keyId": "sp-cert-planted", "usage": "Verify"}]
    again = _open(r)
    failed = _step(r, again)
    assert failed["status"] == "failed" and "sp-cert-planted" in failed["error"], failed


def test_okta_app_at_its_two_secret_limit_is_rotated(
    runtime: Runtime, clock: FixedClock, fakes: dict[str, Any]
) -> None:
    """Okta refuses a third secret; an inactive one goes first (it must go anyway)."""
    server = fakes["okta"]
    secrets = server.fake.client_secrets["0oa5hrinsights"]
    secrets.append({**secrets[0], "id": "ocs-old-inactive", "status": "INACTIVE"})
    apply_estate(
        runtime.store, parse_estate(_estate("hr-insights-client", "okta")), actor="t", clock=clock
    )
    runtime.vault.put("crm/client-secret", "old")
    r = Responder(
        runtime.store, runtime.vault, clock, connectors={"okta": _config("okta", server.url)}
    )
    step = _step(r, _open(r))
    assert step["status"] == "done", step
    assert [x["id"] for x in secrets] == [step["result"]["new_secret_id"]]


def test_a_lost_mint_answer_is_not_retried_and_is_on_record(
    runtime: Runtime, clock: FixedClock, fakes: dict[str, Any]
) -> None:
    """Okta created the secret but the answer was lost (500): retrying the POST would leave a
    second orphan, so it is not retried; the step says a secret may exist that nobody holds,
    the attempt is audited, and the next rotation names the two-secret limit and the way out."""
    server = fakes["okta"]
    apply_estate(
        runtime.store, parse_estate(_estate("hr-insights-client", "okta")), actor="t", clock=clock
    )
    runtime.vault.put("crm/client-secret", "old")
    r = Responder(
        runtime.store, runtime.vault, clock, connectors={"okta": _config("okta", server.url)}
    )
    server.fake.lose_next_created_secret = True
    step = _step(r, _open(r))
    assert step["status"] == "failed" and "may have created one nobody holds" in step["error"]
    assert [a for a, _ in server.fake.actions] == ["add_client_secret"]  # no retry
    assert runtime.vault.get("crm/client-secret").get_secret_value() == "old"
    with runtime.store.session() as s:
        failed = s.scalars(
            select(AuditRecord).where(AuditRecord.action == "credential.rotate_failed")
        ).one()
        assert failed.after and failed.after["failed_at"] == "mint"
    again = _step(r, _open(r))
    assert again["status"] == "failed" and "at most two secrets per app" in again["error"]


def test_rotation_failures_are_clear_and_leave_the_old_secret(
    runtime: Runtime, clock: FixedClock, fakes: dict[str, Any]
) -> None:
    server = fakes["okta"]
    cfg = {"okta": _config("okta", server.url)}
    # The vendor does not know the app: nothing minted, the vault untouched.
    apply_estate(
        runtime.store, parse_estate(_estate("no-such-app", "okta")), actor="t", clock=clock
    )
    runtime.vault.put("crm/client-secret", "old")
    r = Responder(runtime.store, runtime.vault, clock, connectors=cfg)
    step = _step(r, _open(r))
    assert step["status"] == "failed" and "no Okta app has the client id" in step["error"]
    assert server.fake.actions == []
    assert runtime.vault.get("crm/client-secret").get_secret_value() == "old"
    # A credential held outside the vault cannot be rotated by Ringfence.
    outside = _estate("hr-insights-client", "okta", ref="${env:CRM_SECRET}")
    apply_estate(runtime.store, parse_estate(outside), actor="t", clock=clock)
    step = _step(r, _open(r))
    assert step["status"] == "failed" and "outside the vault" in step["error"]
    # The old secret cannot be removed (the vendor fails): the new one is kept and said so.
    fine = _estate("hr-insights-client", "okta")
    apply_estate(runtime.store, parse_estate(fine), actor="t", clock=clock)
    server.fake.refuse_secret_deletes = True
    step = _step(r, _open(r))
    server.fake.refuse_secret_deletes = False
    with runtime.store.session() as s:
        rec = s.scalars(
            select(AuditRecord)
            .where(AuditRecord.action == "credential.rotate")
            .order_by(AuditRecord.seq.desc())
        ).first()
        assert rec is not None and rec.after and rec.after["problem"]  # on record, with why
    assert step["status"] == "failed" and "removing the old ones failed" in step["error"]
    minted = [sid for action, sid in server.fake.actions if action == "add_client_secret"]
    assert (
        runtime.vault.get("crm/client-secret").get_secret_value() == server.fake.issued[minted[-1]]
    )
    server.fake.actions.clear()
    # No connector configured: the step says what is missing.
    bare = Responder(runtime.store, runtime.vault, clock)
    step = _step(bare, _open(bare))
    assert step["status"] == "failed" and "--connectors" in step["error"]
    assert server.fake.actions == []


def test_rotation_is_only_offered_for_vendors_that_can_rotate() -> None:
    with pytest.raises(EstateInvalid) as bad:
        parse_estate(_estate("x", "github"))
    assert "rotate_client_secret works with okta or microsoft365" in str(bad.value)


def test_approvers_approve_the_target_pinned_when_the_incident_opened(
    runtime: Runtime, clock: FixedClock, fakes: dict[str, Any]
) -> None:
    """The approval note names the app to rotate; if the integration's client_id is edited
    before the approval, the step refuses instead of rotating another app's secret."""
    server = fakes["okta"]
    text = _estate("hr-insights-client", "okta").replace(
        "{action: rotate_client_secret, vendor: okta}",
        "{action: rotate_client_secret, vendor: okta, approve: true}",
    )
    apply_estate(runtime.store, parse_estate(text), actor="t", clock=clock)
    runtime.vault.put("crm/client-secret", "old")
    cfg = {"okta": _config("okta", server.url)}
    r = Responder(runtime.store, runtime.vault, clock, connectors=cfg)
    incident = r.start("contain-integration", "crm-sync", actor="alice")
    waiting = _step(r, incident)
    assert waiting["status"] == "awaiting_approval"
    notes = [t["message"] for t in r.show(incident)["timeline"] if t["kind"] == "approval_needed"]
    assert "okta app with client id hr-insights-client" in notes[-1]
    retarget = text.replace("client_id: hr-insights-client", "client_id: 0oa1nwsfsso")
    apply_estate(runtime.store, parse_estate(retarget), actor="t", clock=clock)
    r.approve(incident, waiting["position"], actor="bob")
    step = _step(r, incident)
    assert step["status"] == "failed" and "changed since the incident opened" in step["error"]
    assert server.fake.actions == []
