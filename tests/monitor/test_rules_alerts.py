from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from ringfence.cli.app import app as cli_app
from ringfence.core.clock import FixedClock
from ringfence.core.errors import NotFoundError, ValidationError
from ringfence.monitor.alerts import AlertStore, Finding
from ringfence.monitor.detect import SigmaDetector
from ringfence.monitor.parsers import parser_for
from ringfence.monitor.service import Monitor
from ringfence.monitor.sigma.engine import BUNDLED_RULES, RuleSet
from ringfence.monitor.sigma.testing import run_rule_tests
from ringfence.runtime import Runtime
from tests.monitor import records as R


@pytest.fixture(scope="module")
def bundled() -> RuleSet:
    return RuleSet.bundled()


def test_bundled_rules_load_cleanly_and_are_enough(bundled: RuleSet) -> None:
    assert bundled.problems == []
    assert len(bundled.rules) + len(bundled.correlations) >= 30
    assert len(bundled.correlations) >= 6


def test_every_bundled_rule_has_passing_match_and_no_match_cases(bundled: RuleSet) -> None:
    report = run_rule_tests(bundled)
    failed = [r for r in report.results if not r.ok]
    assert failed == [] and report.untested == []
    by_rule: dict[str, set[bool]] = {}
    for r in report.results:
        by_rule.setdefault(r.rule, set()).add(r.expected)
    assert all(v == {True, False} for v in by_rule.values()), by_rule


def test_rules_test_cli_passes_and_fails(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli_app, ["rules", "test", str(BUNDLED_RULES / "okta.yml")])
    assert ok.exit_code == 0, ok.output
    bad = tmp_path / "bad.yml"
    bad.write_text(
        """title: wrong expectation
logsource: {product: okta, service: okta}
detection: {sel: {eventType: user.session.start}, condition: sel}
x_tests:
  - {name: login, match: false, source: okta, record: {}}
  - {name: broken case, match: true, source: nowhere, record: {}}
---
title: unsupported
logsource: {product: okta}
detection: {sel: {a|re: '(?<=x)y'}, condition: sel}
"""
    )
    res = runner.invoke(cli_app, ["rules", "test", str(bad), "-o", "json"])
    assert res.exit_code == 1
    out = orjson.loads(res.output)
    assert [c["ok"] for c in out["cases"]] == [False, False]
    assert "nowhere" in out["cases"][1]["error"]
    assert len(out["problems"]) == 1 and "unsupported" in out["problems"][0]
    missing = runner.invoke(cli_app, ["rules", "test", str(tmp_path / "none.yml")])
    assert missing.exit_code != 0


def _finding(clock: FixedClock, entity: str = "bob", rule: str = "r1") -> Finding:
    return Finding(rule, "Title", "high", "rule", entity, "bob did a thing", clock.now())


def test_alerts_are_deduplicated_within_suppression(runtime: Runtime, clock: FixedClock) -> None:
    alerts = AlertStore(runtime.store, clock, sinks=["siem"], suppression=timedelta(minutes=30))
    assert len(alerts.raise_findings([_finding(clock)])) == 1
    clock.advance(minutes=10)
    assert alerts.raise_findings([_finding(clock), _finding(clock, "eve")])[0].dedup_key == "r1|eve"
    (bob,) = [a for a in alerts.list() if a.dedup_key == "r1|bob"]
    assert bob.count == 2 and bob.finding["count"] == 2
    assert bob.finding["class_uid"] == 2004 and bob.finding["type_uid"] == 200401
    clock.advance(hours=2)
    assert len(alerts.raise_findings([_finding(clock)])) == 1  # suppression window passed


def test_one_batch_spanning_suppression_windows_counts_like_one_by_one(
    runtime: Runtime, clock: FixedClock
) -> None:
    """Increments are applied once per key at the end of a batch: the result must be what
    raising the findings one at a time gives (new alert after a gap, counts, last seen)."""
    t0 = clock.now()

    def at(minutes: int, entity: str = "bob") -> Finding:
        return Finding("r1", "Title", "high", "rule", entity, "s", t0 + timedelta(minutes=minutes))

    batch = [at(0), at(20), at(50), at(200), at(210), at(5, "eve"), at(400)]
    first = AlertStore(runtime.store, clock, suppression=timedelta(minutes=60))
    first.raise_findings([at(-30)])  # an alert already open before the batch
    created = first.raise_findings(batch)
    got = sorted((a.first_seen, a.last_seen, a.count, a.finding["count"]) for a in first.list())
    for a in first.list():
        first.set_status(a.id, "closed", actor="test")
    one_by_one = AlertStore(runtime.store, clock, suppression=timedelta(minutes=60))
    one_by_one.raise_findings([at(-30)])
    created_singly = [
        a for f in sorted(batch, key=lambda f: f.dedup_key) for a in one_by_one.raise_findings([f])
    ]
    want = sorted(
        (a.first_seen, a.last_seen, a.count, a.finding["count"]) for a in one_by_one.list("new")
    )
    assert got == want
    assert [(a.first_seen, a.dedup_key) for a in created] == [
        (a.first_seen, a.dedup_key) for a in created_singly
    ]
    assert (t0 - timedelta(minutes=30), t0 + timedelta(minutes=50), 4, 4) in got


def test_an_alert_counted_up_in_its_own_batch_sends_its_first_state(
    runtime: Runtime, clock: FixedClock
) -> None:
    """The outbox holds the alert as it was created (count 1) even when the same batch counts
    it up: the alert's OCSF object is replaced, never changed in place."""
    from sqlalchemy import select

    from ringfence.monitor.models import OutboxItem

    alerts = AlertStore(runtime.store, clock, sinks=["siem"], suppression=timedelta(minutes=30))
    (created,) = alerts.raise_findings([_finding(clock), _finding(clock), _finding(clock)])
    (alert,) = alerts.list()
    assert alert.count == 3 and alert.finding["count"] == 3
    with runtime.store.session() as s:
        (item,) = s.scalars(select(OutboxItem)).all()
        assert item.alert_id == created.id and item.payload["count"] == 1


def test_a_batch_of_many_keys_increments_each_keys_newest_open_alert(
    runtime: Runtime, clock: FixedClock
) -> None:
    """The open alerts of a batch's keys are read in one query per 500 keys (was one query per
    key): each finding must still land on its own key's newest open alert."""
    alerts = AlertStore(runtime.store, clock, suppression=timedelta(minutes=30))
    entities = [f"user{i:04d}" for i in range(620)]  # more keys than one lookup holds
    assert len(alerts.raise_findings([_finding(clock, e) for e in entities])) == 620
    clock.advance(hours=1)  # past the window: a second, newer open alert per key
    assert len(alerts.raise_findings([_finding(clock, e) for e in entities])) == 620
    clock.advance(minutes=5)
    assert alerts.raise_findings([_finding(clock, e) for e in reversed(entities)]) == []
    counts: dict[str, list[int]] = {}
    for a in sorted(alerts.list(limit=5000), key=lambda a: a.first_seen):
        counts.setdefault(a.dedup_key, []).append(a.count)
    assert len(counts) == 620 and all(c == [1, 2] for c in counts.values())


def test_alert_lifecycle(runtime: Runtime, clock: FixedClock) -> None:
    alerts = AlertStore(runtime.store, clock)
    (a,) = alerts.raise_findings([_finding(clock)])
    assert alerts.set_status(a.id, "acknowledged", actor="test").finding["status_id"] == 2
    assert alerts.raise_findings([_finding(clock)]) == []  # acknowledged still absorbs
    alerts.set_status(a.id, "closed", actor="test")
    assert len(alerts.raise_findings([_finding(clock)])) == 1  # closed → a new alert
    with pytest.raises(ValidationError):
        alerts.set_status(a.id, "acknowledged", actor="test")
    with pytest.raises(NotFoundError):
        alerts.set_status("nope", "closed", actor="test")
    with pytest.raises(ValidationError):
        alerts.list("weird")


def test_redelivered_events_do_not_realert(runtime: Runtime, clock: FixedClock) -> None:
    alerts = AlertStore(runtime.store, clock, suppression=timedelta(seconds=0))
    monitor = Monitor(runtime.store, clock, [SigmaDetector(RuleSet.bundled(), alerts)])
    events = parser_for("okta")(R.okta("user.mfa.factor.deactivate"))
    assert monitor.process(events) == 1
    assert monitor.process(events) == 0
    (a,) = alerts.list()
    assert a.count == 1 and a.rule_id == "rf_okta_mfa_removed"


def test_gateway_burst_raises_one_correlation_alert(runtime: Runtime, clock: FixedClock) -> None:
    alerts = AlertStore(runtime.store, clock)
    monitor = Monitor(runtime.store, clock, [SigmaDetector(RuleSet.bundled(), alerts)])
    parse = parser_for("ringfence")
    events = [
        e
        for i in range(45)
        for e in parse(R.gateway(401, request_id=f"r{i}", time=f"2026-01-05T09:12:{i:02d}Z"))
    ]
    monitor.process(events)
    burst = [a for a in alerts.list() if a.rule_id == "rf_gateway_auth_burst"]
    assert len(burst) == 1 and burst[0].count == 2  # fired at 20 and 40, de-duplicated
    assert "client_ip=10.1.2.3" in burst[0].finding["message"]


def test_alerts_cli(runtime: Runtime, clock: FixedClock, tmp_path: Path) -> None:
    (a,) = AlertStore(runtime.store, clock).raise_findings([_finding(clock)])
    runner = CliRunner()
    dd = ["--data-dir", str(tmp_path / "data")]
    res = runner.invoke(cli_app, ["alerts", "list", "-o", "json", *dd])
    assert orjson.loads(res.output)[0]["id"] == a.id
    assert runner.invoke(cli_app, ["alerts", "ack", a.id, *dd]).exit_code == 0
    assert runner.invoke(cli_app, ["alerts", "close", a.id, *dd]).exit_code == 0
    res = runner.invoke(cli_app, ["alerts", "list", "--status", "closed", "-o", "json", *dd])
    assert [x["alert_status"] for x in orjson.loads(res.output)] == ["closed"]
    assert runner.invoke(cli_app, ["alerts", "ack", "missing", *dd]).exit_code != 0


def test_workers_raising_one_key_at_once_open_one_alert(any_runtime: Runtime) -> None:
    """Two monitor workers (here: threads with their own sessions, on SQLite and PostgreSQL)
    raising the first finding of the same key at the same instant open one alert, counted
    for each — not one alert each, each sent to the SIEM."""
    import threading

    clock = any_runtime.clock
    assert isinstance(clock, FixedClock)
    workers = 6

    def raise_one(rule: str, gate: threading.Barrier, errors: list[BaseException]) -> None:
        store = AlertStore(any_runtime.store, clock, sinks=["siem"])
        gate.wait()
        try:
            store.raise_findings([_finding(clock, rule=rule)])
        except BaseException as exc:  # reported below
            errors.append(exc)

    for round_no in range(3):
        rule, gate, errors = f"race-{round_no}", threading.Barrier(workers), []
        threads = [
            threading.Thread(target=raise_one, args=(rule, gate, errors)) for _ in range(workers)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        rows = [a for a in AlertStore(any_runtime.store, clock).list() if a.rule_id == rule]
        assert len(rows) == 1 and rows[0].count == workers, [(a.id, a.count) for a in rows]
