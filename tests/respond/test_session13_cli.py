"""Session 13 review (low): bad input to ``ringfence respond`` is one clear line and exit 1,
never an internal error, an empty answer to a typo, or a NUL the store cannot hold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli_foundation import run
from tests.respond.test_respond import ESTATE


def test_bad_cli_input_is_refused_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path / "rf")
    run(["init", "--data-dir", data], capsys)
    estate = tmp_path / "ringfence.yaml"
    estate.write_text(ESTATE)
    assert run(["apply", "-f", str(estate), "--data-dir", data], capsys)[0] == 0
    at = ["--data-dir", data]
    code, out, err = run(
        ["respond", "start", "contain-integration", "crm-sync", "--by", "alice", *at, "-o", "json"],
        capsys,
    )
    assert code == 0, err
    incident = json.loads(out)["id"]

    # before: "internal error (OverflowError)"
    code, out, err = run(
        ["respond", "approve", incident, "99999999999999999999999", "--by", "bob", *at],
        capsys,
    )
    assert code != 0 and "internal error" not in err + out and "Traceback" not in err + out
    # before: an empty table and exit 0
    code, _, err = run(["respond", "list", "--status", "contianed", "--data-dir", data], capsys)
    assert code == 1 and "--status 'contianed' is not one of" in err
    # before: accepted, and stored in the timeline and the audit log (PostgreSQL: an
    # internal error)
    for args in (
        ["start", "contain-integration", "crm-sync", "--by", "a\x00b"],
        ["start", "contain-integration", "crm-sync", "--by", "al", "--reason", "x\x1b[2Jy"],
        ["skip", incident, "4", "--by", "bob", "--comment", "no\x00pe"],
    ):
        code, _, err = run(["respond", *args, "--data-dir", data], capsys)
        assert code == 1 and "holds a control character" in err, (args, err)
    code, out, _ = run(["respond", "list", "--data-dir", data, "-o", "json"], capsys)
    assert code == 0 and len(json.loads(out)) == 1
