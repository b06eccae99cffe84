"""Session 13 review (medium-low): a step left running by a process that stopped mid-step (a
crash, a deploy, an OOM kill) stayed 'running' for good: the incident could not be closed
('step N is still open'), skipping it was refused ('running, not awaiting approval'), the steps
after it never ran, and — since one rotation per integration runs at a time — no later incident
could rotate that integration's secret. Now a person can mark it interrupted once it has run
for ``STALE_RUNNING``; the run goes on with the next step."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from ringfence.core.clock import FixedClock
from ringfence.core.errors import ConflictError, PermissionDeniedError
from ringfence.inventory.estate import apply_estate, parse_estate
from ringfence.respond import Responder
from ringfence.respond.engine import STALE_RUNNING
from ringfence.respond.models import IncidentStep
from ringfence.runtime import Runtime
from ringfence.store.models import AuditRecord
from tests.respond.test_rotation import _config, _estate, _step


def _left_running(runtime: Runtime, incident: str, position: int, clock: FixedClock) -> None:
    with runtime.store.session() as s:  # what a process killed mid-step leaves behind
        s.execute(
            update(IncidentStep)
            .where(IncidentStep.incident_id == incident, IncidentStep.position == position)
            .values(status="running", started_at=clock.now())
        )


def test_a_step_left_running_can_be_marked_interrupted_and_the_run_goes_on(
    runtime: Runtime, clock: FixedClock, fakes: dict[str, Any]
) -> None:
    server = fakes["okta"]
    apply_estate(
        runtime.store, parse_estate(_estate("hr-insights-client", "okta")), actor="t", clock=clock
    )
    runtime.vault.put("crm/client-secret", "old")
    r = Responder(
        runtime.store, runtime.vault, clock, connectors={"okta": _config("okta", server.url)}
    )
    crashed = r.start("contain-integration", "crm-sync", actor="alice")
    rotation = _step(r, crashed)["position"]
    _left_running(runtime, crashed, rotation, clock)

    # Too early: it may still be running.
    clock.advance(seconds=60)
    with pytest.raises(ConflictError, match="can be marked interrupted once"):
        r.skip(crashed, rotation, actor="bob", comment="the worker was redeployed")
    clock.advance(seconds=STALE_RUNNING.total_seconds())
    with pytest.raises(PermissionDeniedError):
        r.skip(crashed, rotation, actor="token:ci", comment="automation cannot say so")

    # A later incident's rotation is not held back by the one left running.
    later = r.start("contain-integration", "crm-sync", actor="alice")
    r.approve(later, _step(r, later)["position"], actor="bob")
    assert _step(r, later)["status"] == "done"

    r.skip(crashed, rotation, actor="bob", comment="the worker was redeployed")
    view = r.show(crashed)
    step = _step(r, crashed)
    assert step["status"] == "failed" and step["error"].startswith("interrupted: running since")
    # the run went on: the next step (revoke_integration) waits for its approval now
    after = view["steps"][rotation]
    assert after["action"] == "revoke_integration" and after["status"] == "awaiting_approval"
    r.skip(crashed, after["position"], actor="bob", comment="not needed")
    r.close(crashed, actor="bob", summary="rotation interrupted by a deploy; re-run later")
    assert r.show(crashed)["status"] == "closed"
    with runtime.store.session() as s:
        assert s.scalars(
            select(AuditRecord).where(AuditRecord.action == "incident.step_interrupted")
        ).one()


def test_steps_after_a_running_one_wait_for_it(
    runtime: Runtime, clock: FixedClock, fakes: dict[str, Any]
) -> None:
    """Steps run in order: a second run advancing the incident while a step is running no
    longer starts the steps after it."""
    apply_estate(
        runtime.store, parse_estate(_estate("hr-insights-client", "okta")), actor="t", clock=clock
    )
    r = Responder(runtime.store, runtime.vault, clock)
    incident = r.start("contain-integration", "crm-sync", actor="alice", drill=True)
    rotation = _step(r, incident)["position"]
    r._decide(incident, rotation, actor="bob", comment="", approve=True)
    _left_running(runtime, incident, rotation, clock)
    r.advance(incident, "bob")
    later = r.show(incident)["steps"][rotation:]
    assert [st["status"] for st in later] == ["pending"] * len(later)
