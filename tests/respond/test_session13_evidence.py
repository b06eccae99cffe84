"""Session 13 review (low): an evidence bundle over its event bound keeps the newest events
and says it is incomplete. Before, it kept the *oldest* MAX_EVIDENCE_EVENTS of the window — a
busy integration's bundle ended hours before the incident — and nothing in it said so."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ringfence.core.clock import FixedClock
from ringfence.inventory.estate import apply_estate, parse_estate
from ringfence.monitor.parsers import parser_for
from ringfence.monitor.service import Monitor
from ringfence.respond import Responder
from ringfence.respond import engine as respond_engine
from ringfence.runtime import Runtime
from tests.respond.test_respond import ESTATE


def test_a_bundle_over_its_bound_keeps_the_newest_events_and_says_so(
    runtime: Runtime, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply_estate(runtime.store, parse_estate(ESTATE), actor="t", clock=clock)
    parse = parser_for("ringfence")
    events = []
    for i in range(5):
        rec = {
            "time": (clock.now() - timedelta(minutes=50 - i)).isoformat(),
            "request_id": f"ev-{i}",
            "method": "GET",
            "status": 200,
            "decision": "allow",
            "reason": "ok",
            "latency_ms": 1.0,
            "integration": "crm-sync",
            "path_template": "/v1/items",
            "upstream": "api.example.com",
        }
        events.extend(parse(rec))
    Monitor(runtime.store, clock).process(events)
    monkeypatch.setattr(respond_engine, "MAX_EVIDENCE_EVENTS", 3)
    r = Responder(runtime.store, runtime.vault, clock)
    incident = r.start("contain-integration", "crm-sync", actor="alice", drill=True)
    (bundle,) = r.evidence(incident)
    kept = [e["ts"] for e in bundle["bundle"]["events"]]
    newest = sorted(e.time.isoformat() for e in events)[-3:]
    assert kept == newest
    assert bundle["bundle"]["events_truncated"] is True
    step = next(st for st in r.show(incident)["steps"] if st["action"] == "collect_evidence")
    assert "the newest; more in the window" in step["result"]["summary"]
