"""Session 13 review: a detection drill closes its own alert and nothing else. Before, it
closed "the newest alert of the trigger rule since the injection" — when the injected events
were counted into a real open alert (same rule and entity, within the suppression window), or a
real alert of the rule came in meanwhile, the drill closed the real one, and a closed alert
never opens its incident (watch_alerts skips it): a drill in production suppressed detection."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ringfence.core.clock import FixedClock
from ringfence.inventory.estate import apply_estate, parse_estate
from ringfence.monitor.models import Alert
from ringfence.monitor.sigma.testing import build_events
from ringfence.respond import Responder, StepFailed
from ringfence.runtime import Runtime
from tests.respond.test_respond import ESTATE

RULE = "rf_gateway_revoked_credential"


def test_a_detection_drill_never_closes_a_real_alert(runtime: Runtime, clock: FixedClock) -> None:
    from ringfence.monitor.wiring import build_monitor, load_config, load_rules

    estate = runtime

    text = ESTATE.replace("rules: [rf_test_rule]", f"rules: [{RULE}]")
    apply_estate(estate.store, parse_estate(text), actor="t", clock=clock)
    rules = load_rules(load_config(estate.settings.data_dir))
    monitor = build_monitor(estate, rules)
    # A real attack a minute ago: the same records, real event ids -> a real open alert.
    rule = rules.rule(RULE)
    assert rule is not None
    case = next(c for c in rule.tests if c.get("match") and "record" in c)
    real = build_events(case, [0])
    latest = max(e.time for e in real)
    for i, e in enumerate(real):
        e.id = f"real-{i}"
        e.time = clock.now() - (latest - e.time)
    monitor.process(real)
    with estate.store.session() as s:
        (alert,) = s.scalars(select(Alert).where(Alert.rule_id == RULE)).all()
        real_id = alert.id
    assert alert.status == "new"
    clock.advance(seconds=60)

    r = Responder(estate.store, estate.vault, clock)
    with pytest.raises(StepFailed, match=f"counted into open alert {real_id}"):
        r.drill_detection(
            "contain-integration", "crm-sync", actor="alice", monitor=monitor, rules=rules
        )
    with estate.store.session() as s:
        kept = s.get(Alert, real_id)
        assert kept is not None and kept.status == "new"  # before: closed by the drill
    # ... so the real alert still opens its incident
    assert len(r.watch_alerts()) == 1
