"""``ringfence respond`` from the command line: one clear line and exit 1 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli_foundation import run
from tests.respond.test_respond import ESTATE


def test_respond_cli_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "rf")
    run(["init", "--data-dir", data], capsys)
    estate = tmp_path / "ringfence.yaml"
    estate.write_text(ESTATE)
    code, _, err = run(["apply", "-f", str(estate), "--data-dir", data], capsys)
    assert code == 0, err
    code, out, _ = run(["respond", "playbooks", "--data-dir", data, "-o", "json"], capsys)
    assert code == 0 and json.loads(out)[0]["name"] == "contain-integration"
    code, out, err = run(
        [
            "respond",
            "start",
            "contain-integration",
            "crm-sync",
            "--by",
            "alice",
            "--reason",
            "suspicious reads",
            "--data-dir",
            data,
            "-o",
            "json",
        ],
        capsys,
    )
    assert code == 0, err
    view = json.loads(out)
    incident = view["id"]
    assert view["status"] == "awaiting_approval"
    code, _, err = run(
        ["respond", "approve", incident, "4", "--by", "alice", "--data-dir", data], capsys
    )
    assert code == 1 and "second person" in err and "Traceback" not in err
    code, out, _ = run(
        ["respond", "approve", incident, "4", "--by", "bob", "--data-dir", data, "-o", "json"],
        capsys,
    )
    view = json.loads(out)
    # No monitor.yaml here, so the two notification steps fail and say why; containment holds.
    assert view["status"] == "contained" and view["failed_steps"] == 2
    code, out, _ = run(["respond", "show", incident, "--data-dir", data], capsys)
    assert code == 0 and "revoke_integration" in out
    code, out, _ = run(["respond", "evidence", incident, "--data-dir", data], capsys)
    assert code == 0 and json.loads(out)[0]["sha256"]
    code, _, err = run(
        ["respond", "close", incident, "--by", "bob", "--summary", "x", "--data-dir", data],
        capsys,
    )
    assert code == 1 and "summary" in err
    code, out, _ = run(
        [
            "respond",
            "close",
            incident,
            "--by",
            "bob",
            "--summary",
            "re-registered",
            "--data-dir",
            data,
        ],
        capsys,
    )
    assert code == 0 and "closed" in out
    code, _, err = run(
        ["respond", "start", "nope", "crm-sync", "--by", "a", "--data-dir", data], capsys
    )
    assert code == 1 and "no playbook 'nope'" in err
    code, out, _ = run(["respond", "watch", "--once", "--data-dir", data], capsys)
    assert code == 0 and "no new alert" in out
