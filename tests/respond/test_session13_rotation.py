"""Session 13 review of ``rotate_client_secret``: what the approver approves is what runs, the
new secret never lands over a vault entry something else reads, and two incidents never rotate
one integration's secret at the same time."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import update

from ringfence.core.clock import FixedClock
from ringfence.inventory.estate import apply_estate, parse_estate
from ringfence.respond import Responder
from ringfence.respond.models import IncidentStep
from ringfence.runtime import Runtime
from tests.respond.test_rotation import _config, _estate, _step

OTHER = (
    "  - {name: payroll-token, kind: api_key, integration: crm-sync, ref: 'vault:payroll/token'}\n"
)


def _apply(runtime: Runtime, clock: FixedClock, text: str) -> None:
    apply_estate(runtime.store, parse_estate(text), actor="writer", clock=clock)


def _waiting(r: Responder) -> tuple[str, int]:
    incident = r.start("contain-integration", "crm-sync", actor="alice")
    step = _step(r, incident)
    assert step["status"] == "awaiting_approval", step
    return incident, step["position"]


def test_the_approval_binds_to_the_vault_entry_shown_to_the_approver(
    runtime: Runtime, clock: FixedClock, fakes: dict[str, Any]
) -> None:
    """Before: only the client id was pinned. A writer could point the credential at another
    vault entry (here another integration's API key) after the approval request; the approved
    rotation then wrote the new secret over it — the vault keeps no older version."""
    server = fakes["okta"]
    base = _estate("hr-insights-client", "okta")
    _apply(runtime, clock, base)
    runtime.vault.put("crm/client-secret", "old")
    runtime.vault.put("payroll/token", "payroll-upstream-key")
    r = Responder(
        runtime.store, runtime.vault, clock, connectors={"okta": _config("okta", server.url)}
    )
    incident, position = _waiting(r)
    notes = [t["message"] for t in r.show(incident)["timeline"] if t["kind"] == "approval_needed"]
    assert "stored over vault:crm/client-secret (credential crm-secret)" in notes[-1], notes
    _apply(runtime, clock, base.replace("vault:crm/client-secret", "vault:payroll/token"))
    r.approve(incident, position, actor="bob")
    step = _step(r, incident)
    assert step["status"] == "failed" and "changed since the incident opened" in step["error"]
    assert server.fake.actions == []
    assert runtime.vault.get("payroll/token").get_secret_value() == "payroll-upstream-key"


@pytest.mark.parametrize("user", ["credential", "connector", "connector-option"])
def test_a_vault_entry_something_else_reads_is_not_rotated_over(
    runtime: Runtime, clock: FixedClock, fakes: dict[str, Any], user: str
) -> None:
    """The client-secret credential names a vault entry another credential (or the connector
    that does the rotating) reads: rotating would destroy that secret."""
    server = fakes["okta"]
    text = _estate("hr-insights-client", "okta", ref="vault:payroll/token")
    config = _config("okta", server.url)
    if user == "credential":
        text += OTHER
    elif user == "connector":
        runtime.vault.put("payroll/token", "test-token")
        config = type(config)(
            vendor="okta",
            base_url=config.base_url,
            credential_ref="vault:payroll/token",
            options=config.options,
        )
    else:  # a connector's other token (GitHub action_credential_ref, M365 management_...)
        config = type(config)(
            vendor="okta",
            base_url=config.base_url,
            credential_ref=config.credential_ref,
            options={**config.options, "action_credential_ref": "vault:payroll/token"},
        )
    _apply(runtime, clock, text)
    runtime.vault.put("payroll/token", "test-token")
    r = Responder(runtime.store, runtime.vault, clock, connectors={"okta": config})
    incident, position = _waiting(r)
    r.approve(incident, position, actor="bob")
    step = _step(r, incident)
    assert step["status"] == "failed" and "is also used by" in step["error"], step
    assert {
        "credential": "payroll-token",
        "connector": "okta connector",
        "connector-option": "okta connector (action_credential_ref)",
    }[user] in step["error"]
    assert server.fake.actions == []
    assert runtime.vault.get("payroll/token").get_secret_value() == "test-token"


def test_two_incidents_never_rotate_one_integration_at_the_same_time(
    runtime: Runtime, clock: FixedClock, fakes: dict[str, Any]
) -> None:
    """Before: incident A's rotation in flight and B's approved meanwhile both ran; each
    retires every secret but its own, so together they removed both new secrets and the
    vault held one the vendor no longer accepted. Now B's step is not run and says why."""
    server = fakes["okta"]
    _apply(runtime, clock, _estate("hr-insights-client", "okta"))
    runtime.vault.put("crm/client-secret", "old")
    r = Responder(
        runtime.store, runtime.vault, clock, connectors={"okta": _config("okta", server.url)}
    )
    first, first_pos = _waiting(r)
    second, second_pos = _waiting(r)
    with runtime.store.session() as s:  # A's rotation is in flight (claimed, at the vendor)
        s.execute(
            update(IncidentStep)
            .where(IncidentStep.incident_id == first, IncidentStep.position == first_pos)
            .values(status="running", started_at=clock.now())
        )
    r.approve(second, second_pos, actor="bob")
    step = _step(r, second)
    assert step["status"] == "failed", step
    assert f"incident {first} is running rotate_client_secret" in step["error"]
    assert server.fake.actions == []
    assert runtime.vault.get("crm/client-secret").get_secret_value() == "old"
    # A drill of the same playbook meanwhile is not held back (it changes nothing).
    drill = r.start("contain-integration", "crm-sync", actor="alice", drill=True)
    r.approve(drill, _step(r, drill)["position"], actor="bob")
    assert _step(r, drill)["status"] == "done"


def test_two_rotations_approved_at_the_same_moment_run_once(
    any_runtime: Runtime, clock: FixedClock, fakes: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real race, on SQLite and PostgreSQL: two people approve two incidents' rotations
    of one integration at once, while the vendor is slow. One rotates; the other is not run;
    the vault holds the app's only secret."""
    from ringfence.connectors.okta import OktaConnector

    runtime = any_runtime
    server = fakes["okta"]
    _apply(runtime, clock, _estate("hr-insights-client", "okta"))
    runtime.vault.put("crm/client-secret", "old")
    real = OktaConnector.add_client_secret

    def slow(self: OktaConnector, client_id: str) -> Any:
        time.sleep(0.5)
        return real(self, client_id)

    monkeypatch.setattr(OktaConnector, "add_client_secret", slow)
    r = Responder(
        runtime.store, runtime.vault, clock, connectors={"okta": _config("okta", server.url)}
    )
    waiting = [_waiting(r), _waiting(r)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def approve(incident: str, position: int) -> None:
        barrier.wait()
        try:
            r.approve(incident, position, actor="bob")
        except BaseException as exc:  # a SQLite writer that lost the race: also fine
            errors.append(exc)

    threads = [threading.Thread(target=approve, args=w) for w in waiting]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(_step(r, incident)["status"] for incident, _ in waiting)
    assert statuses.count("done") == 1, (statuses, errors)
    minted = [sid for action, sid in server.fake.actions if action == "add_client_secret"]
    assert len(minted) == 1
    left = [x["id"] for x in server.fake.client_secrets["0oa5hrinsights"]]
    assert left == minted
    held = runtime.vault.get("crm/client-secret").get_secret_value()
    assert held == server.fake.issued[minted[0]]
