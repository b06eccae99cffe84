"""End to end: the example estate + the vendor fakes → discover finds the seeded shadow IT,
``ringfence check --fail-on high`` exits 1 listing it; reports, lifecycle and adopt from the
command line; bad inputs are one clear line."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest

from ringfence.cli import main
from ringfence.demo.fakes import FAKES, RunningFake, connectors_yaml, serve_all
from ringfence.demo.fakes._seed import SHADOW_APPS

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, RunningFake]]:
    servers = serve_all()
    os.environ["RF_FAKE_TOKEN"] = "test-token"
    yield servers
    os.environ.pop("RF_FAKE_TOKEN", None)
    for s in servers.values():
        s.stop()


@pytest.fixture(scope="module")
def world(
    fakes: dict[str, RunningFake], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """A data dir with the example estate applied and every fake pulled once."""
    base = tmp_path_factory.mktemp("world")
    connectors = base / "connectors.yaml"
    connectors.write_text(connectors_yaml(fakes, "env:RF_FAKE_TOKEN"))
    data = base / "data"
    for argv in (
        ["init", "--data-dir", str(data)],
        [
            "apply",
            "-f",
            str(ROOT / "examples" / "estate.yaml"),
            "--data-dir",
            str(data),
            "--allow-missing-secrets",  # the example's secrets are not in a new vault
        ],
    ):
        try:
            main(argv)
        except SystemExit as exc:
            assert not exc.code, argv
    return {"data": data, "connectors": connectors, "base": base}


@pytest.fixture(scope="module")
def discovered(world: dict[str, Path]) -> dict[str, object]:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        try:
            main(
                [
                    "discover",
                    "--connectors",
                    str(world["connectors"]),
                    "--data-dir",
                    str(world["data"]),
                    "-o",
                    "json",
                ]
            )
        except SystemExit as exc:
            assert not exc.code
    return json.loads(buf.getvalue())  # type: ignore[no-any-return]


def test_discover_finds_the_seeded_shadow_apps_and_risky_grants(
    discovered: dict[str, object],
) -> None:
    pulled = {p["vendor"]: p for p in discovered["pulled"]}  # type: ignore[attr-defined]
    assert set(pulled) == set(FAKES) and all(not p["errors"] for p in pulled.values())
    items = discovered["shadow_it"]
    names = {i["name"] for i in items if i["kind"] == "app"}  # type: ignore[attr-defined]
    assert set(SHADOW_APPS) <= names
    risky = {i["name"]: i for i in items if i["kind"] == "integration"}  # type: ignore[attr-defined]
    assert risky["contoso-backup-tool-microsoft365"]["risk"] == "critical"
    assert "im:history" in risky["meeting-notes-ai-slack"]["risky_scopes"]
    assert "Salesforce Sales Cloud" not in names and "Jira Cloud" not in names


def test_check_fails_on_high_and_lists_the_shadow_findings(
    discovered: dict[str, object], world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        [
            "check",
            "--fail-on",
            "high",
            "--format",
            "json",
            "--no-record",
            "--data-dir",
            str(world["data"]),
        ],
        capsys,
    )
    assert code == 1 and "open finding(s) at or above high" in err
    report = json.loads(out)
    messages = " ".join(f["message"] for f in report["findings"])
    for needle in (
        "Contoso Backup Tool has tenant-wide consent",
        "Meeting Notes AI holds",
        "admin jonas.weber@northwind-analytics.example has no MFA",
        "alice-martin (no longer a member)",
        "PDF Converter Pro holds",
    ):
        assert needle in messages
    assert "test-token" not in out


def test_check_formats_and_thresholds(
    discovered: dict[str, object], world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    sarif = world["base"] / "posture.sarif"
    code, _, _ = run(
        [
            "check",
            "--fail-on",
            "never",
            "--format",
            "sarif",
            "-o",
            str(sarif),
            "--estate",
            "examples/estate.yaml",
            "--data-dir",
            str(world["data"]),
        ],
        capsys,
    )
    assert code == 0
    doc = json.loads(sarif.read_text())
    jsonschema.Draft4Validator(SCHEMA).validate(doc)
    assert len(doc["runs"][0]["results"]) > 20
    # results point at the resource's entry in the estate file when it has one
    located = {
        r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]: r["locations"][0][
            "physicalLocation"
        ]["region"]["startLine"]
        for r in doc["runs"][0]["results"]
    }
    estate_lines = (ROOT / "examples" / "estate.yaml").read_text().splitlines()
    line = located["app/Dropbox"]
    assert estate_lines[line - 1].strip() == "- name: Dropbox"
    code, out, _ = run(
        [
            "check",
            "--fail-on",
            "critical",
            "--format",
            "junit",
            "--only",
            "RF-DAT-006",
            "--no-record",
            "--data-dir",
            str(world["data"]),
        ],
        capsys,
    )
    assert code == 0 and "<testsuites" in out  # retention findings are medium, not critical
    code, out, _ = run(
        [
            "check",
            "--format",
            "markdown",
            "--fail-on",
            "never",
            "--no-record",
            "--data-dir",
            str(world["data"]),
        ],
        capsys,
    )
    assert code == 0 and out.startswith("# Ringfence posture report")
    code, out, _ = run(
        [
            "check",
            "--format",
            "table",
            "--fail-on",
            "never",
            "--no-record",
            "--only",
            "RF-IDN-001",
            "--data-dir",
            str(world["data"]),
        ],
        capsys,
    )
    assert code == 0 and "RF-IDN-001" in out


def test_risk_accepted_finding_no_longer_blocks(
    discovered: dict[str, object], world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data-dir", str(world["data"])]
    # the CLI runs on the system clock, so the expiry is relative to today
    in_30_days = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    code, _, _ = run(["check", "--only", "RF-LPV-007", "--format", "json", *data], capsys)
    assert code == 1
    code, out, _ = run(["posture", "findings", "--status", "open", "-o", "json", *data], capsys)
    row = next(r for r in json.loads(out) if r["check"] == "RF-LPV-007")
    code, _, err = run(
        [
            "posture",
            "accept",
            row["id"],
            "-j",
            "vendor contract review ongoing",
            "--approver",
            "ciso@northwind-analytics.example",
            "--until",
            "2099-01-01",
            *data,
        ],
        capsys,
    )
    assert code == 1 and "at most 365 days" in err
    code, out, _ = run(
        [
            "posture",
            "accept",
            row["id"],
            "-j",
            "vendor contract review ongoing",
            "--approver",
            "ciso@northwind-analytics.example",
            "--by",
            "sec@northwind-analytics.example",
            "--until",
            in_30_days,
            *data,
        ],
        capsys,
    )
    assert code == 0, out
    code, _, _ = run(["check", "--only", "RF-LPV-007", "--format", "json", *data], capsys)
    assert code == 0
    code, out, _ = run(["posture", "history", row["id"], "-o", "json", *data], capsys)
    assert [e["to"] for e in json.loads(out)] == ["open", "risk_accepted"]


def test_adopt_from_the_command_line(
    discovered: dict[str, object], world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    estate = world["base"] / "ringfence.yaml"
    shutil.copy(ROOT / "examples" / "estate.yaml", estate)
    data = ["--data-dir", str(world["data"])]
    code, out, _ = run(
        ["adopt", "integration", "meeting-notes-ai-slack", "-f", str(estate), *data], capsys
    )
    assert code == 0 and "declared integration meeting-notes-ai-slack" in out
    code, out, _ = run(["plan", "-f", str(estate), *data], capsys)
    assert code == 0 and "meeting-notes-ai-slack" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["check", "--only", "RF-NOPE"], "unknown check id"),
        (["adopt", "vendor", "x"], "unknown kind"),
        (["adopt", "app", "Nope", "-f", "/nonexistent/ringfence.yaml"], "no discovered app"),
        (["discover", "--connectors", "/nonexistent/connectors.yaml"], "cannot read"),
        (
            [
                "posture",
                "accept",
                "nope",
                "-j",
                "a long enough reason",
                "--approver",
                "x",
                "--until",
                "31-12-2026",
            ],
            "not a date",
        ),
        (["posture", "findings", "--status", "weird"], "--status must be"),
        (["check", "--format", "table", "-o", "x.txt"], "needs a file format"),
    ],
)
def test_bad_inputs_are_one_clear_line(
    argv: list[str], message: str, world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run([*argv, "--data-dir", str(world["data"])], capsys)
    assert code == 1
    assert message in err and "Traceback" not in err


def test_unknown_format_is_a_usage_error(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["check", "--format", "pdf", "--data-dir", str(world["data"])], capsys)
    assert code == 2 and "pdf" in err


def test_connector_action_needs_confirmation_and_runs(
    discovered: dict[str, object],
    world: dict[str, Path],
    fakes: dict[str, RunningFake],
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = ["--data-dir", str(world["data"])]
    cfg = ["--config", str(world["connectors"])]
    code, _, err = run(
        ["connectors", "act", "suspend-app", "slack", "A05NOTES", *cfg, *data], capsys
    )
    assert code == 1 and "--yes" in err
    code, out, _ = run(
        ["connectors", "act", "suspend-app", "slack", "A05NOTES", "--yes", *cfg, *data], capsys
    )
    assert code == 0 and "restricted" in out
    assert ("suspend_app", "A05NOTES") in fakes["slack"].fake.actions
    code, out, _ = run(["connectors", "vendors", "-o", "json"], capsys)
    assert code == 0 and {r["vendor"] for r in json.loads(out)} == set(FAKES)


def test_audit_logs_flow_into_monitoring_and_feed_the_monitoring_checks(
    discovered: dict[str, object], world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data-dir", str(world["data"])]
    code, out, _ = run(
        ["connectors", "audit", "-c", str(world["connectors"]), "-o", "json", *data], capsys
    )
    assert code == 0
    rows = {r["vendor"]: r for r in json.loads(out)}
    assert set(rows) == set(FAKES)
    assert all(
        r["records"] == 5 and r["events"] >= 5 and r["dead_lettered"] == 0 for r in rows.values()
    ), rows
    code, out, _ = run(
        [
            "check",
            "--only",
            "RF-MON-003",
            "--format",
            "json",
            "--fail-on",
            "never",
            "--no-record",
            *data,
        ],
        capsys,
    )
    [check] = json.loads(out)["checks"]
    assert check["status"] == "pass"  # every pulled tenant now has an audit source
    code, _, err = run(
        ["connectors", "audit", "-c", str(world["connectors"]), "--since", "yesterday", *data],
        capsys,
    )
    assert code == 1 and "not an ISO 8601 time" in err
