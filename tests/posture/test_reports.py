"""Report renderers: SARIF validates against the OASIS 2.1.0 schema, JUnit parses, CSV is
safe to open in a spreadsheet, JSON/Markdown carry the findings."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from ringfence.connectors import DiscoveredApp
from ringfence.posture import PostureReport, run_checks
from ringfence.posture.reports import (
    render_csv,
    render_json,
    render_junit,
    render_markdown,
    render_sarif,
)
from tests.posture.builders import healthy, with_app, with_credential

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())


def failing_report() -> PostureReport:
    ctx = healthy()
    with_credential(ctx, ref="plaintext-value", expires_at=None)
    with_app(ctx, 0, base_urls=("http://crm.acme.example",))
    assert ctx.saas is not None
    ctx.saas.apps.append(DiscoveredApp("slack", "B9", '=HYPERLINK("x")', "cid-x"))
    ctx.vendors = None  # some checks skipped
    return run_checks(ctx)


def test_sarif_validates_against_the_sarif_2_1_0_schema() -> None:
    report = failing_report()
    doc = json.loads(render_sarif(report, artifact="examples/estate.yaml"))
    jsonschema.Draft4Validator(SCHEMA).validate(doc)
    run = doc["runs"][0]
    assert len(run["tool"]["driver"]["rules"]) == len(report.results)
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels["RF-CRD-007"] == "error" and levels["RF-CRD-002"] == "warning"
    for r in run["results"]:
        assert run["tool"]["driver"]["rules"][r["ruleIndex"]]["id"] == r["ruleId"]


def test_sarif_marks_risk_accepted_findings_as_suppressed() -> None:
    report = failing_report()
    key = ("RF-CRD-007", "credential", "crm-chat-key")
    doc = json.loads(render_sarif(report, {key}))
    jsonschema.Draft4Validator(SCHEMA).validate(doc)
    [res] = [r for r in doc["runs"][0]["results"] if r["ruleId"] == "RF-CRD-007"]
    assert res["suppressions"][0]["status"] == "accepted"


def test_empty_report_is_valid_sarif() -> None:
    doc = json.loads(render_sarif(run_checks(healthy())))
    jsonschema.Draft4Validator(SCHEMA).validate(doc)
    assert doc["runs"][0]["results"] == []


def test_junit_has_one_testcase_per_check_with_failures_and_skips() -> None:
    report = failing_report()
    root = ET.fromstring(render_junit(report))
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert len(cases) == len(report.results)
    failed = [c for c in cases if c.find("failure") is not None]
    skipped = [c for c in cases if c.find("skipped") is not None]
    assert int(suite.get("failures", "0")) == len(failed) > 0
    assert int(suite.get("skipped", "0")) == len(skipped) > 0
    crd = next(c for c in cases if c.get("name", "").startswith("RF-CRD-007"))
    failure = crd.find("failure")
    assert failure is not None and "crm-chat-key" in (failure.text or "")


def test_junit_stays_well_formed_with_control_characters_in_saas_names() -> None:
    """A SaaS app named with characters XML cannot carry (ESC, NUL) made the whole JUnit file
    unreadable to CI (session 9 review); they are replaced, the rest of the name kept."""
    ctx = healthy()
    assert ctx.saas is not None
    ctx.saas.apps.append(DiscoveredApp("slack", "B7", "Evil\x1bApp\x00\ud800", "cid-7"))
    root = ET.fromstring(render_junit(run_checks(ctx)))
    texts = [f.text or "" for f in root.iter("failure")]
    assert any("Evil\ufffdApp\ufffd" in t for t in texts)


def test_csv_neutralises_formula_injection_from_saas_data() -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(failing_report()))))
    hostile = [r for r in rows if "HYPERLINK" in r["message"]]
    assert hostile and hostile[0]["message"].startswith("'=HYPERLINK")
    for row in rows:
        assert not any(v[:1] in {"=", "+", "-", "@"} for v in row.values())


def test_json_and_markdown_carry_findings_and_score() -> None:
    report = failing_report()
    data = json.loads(render_json(report))
    assert data["summary"]["findings"] == len(report.findings)
    assert 0 <= data["score"] < 100
    assert data["scores"]["apps"]["CRM"] < 100  # plaintext URL finding lowers the app's score
    assert {f["check_id"] for f in data["findings"]} >= {"RF-CRD-007", "RF-API-001"}
    md = render_markdown(report)
    assert "RF-CRD-007" in md and "## Skipped checks" in md


@pytest.mark.parametrize("severity", ["critical", "high", "medium", "low", "info"])
def test_findings_filter_by_threshold(severity: str) -> None:
    from ringfence.posture import Severity

    report = failing_report()
    threshold = Severity.parse(severity)
    assert all(f.severity >= threshold for f in report.at_or_above(threshold))


def test_unknown_severity_is_a_clear_error() -> None:
    from ringfence.posture import Severity

    with pytest.raises(ValueError, match="expected one of"):
        Severity.parse("urgent")
