"""``ringfence scan``: files, directories, stdin; table/json/sarif; exit code by class."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import typer
from typer.testing import CliRunner

from ringfence.classify.cli import app, register

runner = CliRunner()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "a.json").write_text('{"user": {"email": "jane@acme.io", "ssn": "536-90-4399"}}')
    (tmp_path / "b.csv").write_text("name,card\nJane,4556 7375 8689 9855\n")
    (tmp_path / "c.txt").write_text("hello world\n")
    (tmp_path / "d.ndjson").write_text('{"ip": "203.0.113.42"}\n')
    return tmp_path


def test_directory_scan_fails_on_restricted_and_never_prints_values(tree: Path) -> None:
    res = runner.invoke(app, ["scan", str(tree), "-f", "json"])
    assert res.exit_code == 1
    assert "536-90-4399" not in res.stdout and "4556 7375 8689 9855" not in res.stdout
    body = orjson.loads(res.stdout)
    by_input = {Path(r["input"]).name: r for r in body}
    assert by_input["a.json"]["class"] == "restricted"
    assert by_input["c.txt"]["findings"] == []
    assert {f["path"] for f in by_input["a.json"]["findings"]} == {"$.user.email", "$.user.ssn"}
    assert by_input["b.csv"]["findings"][0]["path"] == "$[1].card"


def test_fail_on_threshold(tree: Path) -> None:
    assert runner.invoke(app, ["scan", str(tree / "d.ndjson")]).exit_code == 0
    assert (
        runner.invoke(app, ["scan", str(tree / "d.ndjson"), "--fail-on", "internal"]).exit_code == 1
    )


def test_stdin_and_table_output() -> None:
    res = runner.invoke(app, ["scan", "-"], input="SSN 536-90-4399")
    assert res.exit_code == 1
    assert "***-**-4399" in res.stdout and "536-90-4399" not in res.stdout


def test_sarif_output_is_valid_shape(tree: Path) -> None:
    res = runner.invoke(app, ["scan", str(tree), "-f", "sarif"])
    doc = orjson.loads(res.stdout)
    assert doc["version"] == "2.1.0"
    rules = {r["id"] for r in doc["runs"][0]["tool"]["driver"]["rules"]}
    assert {"email_address", "us_social_security_number", "credit_card_number"} <= rules
    assert all(r["ruleId"] in rules for r in doc["runs"][0]["results"])


def test_missing_path_and_bad_class_are_clear_errors(tree: Path) -> None:
    from ringfence.core.errors import RingfenceError

    res = runner.invoke(app, ["scan", str(tree / "nope")])
    assert isinstance(res.exception, RingfenceError) and "no such file" in str(res.exception)
    res = runner.invoke(app, ["scan", str(tree), "--fail-on", "secret"])
    assert isinstance(res.exception, RingfenceError)


def test_custom_detectors_file(tree: Path) -> None:
    det = tree / "det.yaml"
    det.write_text(
        "classify:\n  detectors:\n    - id: acme_employee_id\n      class: confidential\n"
        "      pattern: 'EMP-\\d{6}'\n      positive: ['EMP-123456']\n"
    )
    (tree / "e.txt").write_text("staff EMP-654321")
    res = runner.invoke(app, ["scan", str(tree / "e.txt"), "--detectors", str(det), "-f", "json"])
    assert orjson.loads(res.stdout)[0]["findings"][0]["type"] == "acme_employee_id"


def test_types_lists_the_catalogue_and_register_adds_scan() -> None:
    res = runner.invoke(app, ["types", "-f", "json"])
    assert len(orjson.loads(res.stdout)) >= 100
    root = typer.Typer()
    root.command("noop")(lambda: None)
    register(root)
    assert runner.invoke(root, ["scan", "-"], input="hello").exit_code == 0


def test_detectors_from_a_ringfence_yaml_classify_section(tree: Path) -> None:
    det = tree / "ringfence.yaml"
    det.write_text(
        "apiVersion: ringfence/v1\nclassify:\n  - name: acme_badge\n    description: badge\n"
        "    class: internal\n    pattern: 'BDG-\\d{4}'\n    positive: ['BDG-1234']\n"
        "  - name: qa_values\n    allow: ['x']\n"
    )
    (tree / "b.txt").write_text("badge BDG-4321")
    res = runner.invoke(app, ["scan", str(tree / "b.txt"), "--detectors", str(det), "-f", "json"])
    assert orjson.loads(res.stdout)[0]["findings"][0]["type"] == "acme_badge"
