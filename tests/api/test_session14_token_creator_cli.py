"""``ringfence token create --by`` / ``token attribute`` / ``token list``: who a control-plane
token stands for in four-eyes checks (session 14; docs/api.md, docs/respond.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ringfence.core.config import load_settings
from ringfence.runtime import Runtime
from ringfence.store.models import Person
from tests.api.test_token_cli import run as run_wrapped


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """The CLI's answer with its console line wrapping undone."""
    code, out, err = run_wrapped(argv, capsys)
    if "-o" in argv:
        return code, out, err
    return code, " ".join(out.split()), " ".join(err.split())


@pytest.fixture
def data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    data = tmp_path / "rf"
    assert run(["init", "--data-dir", str(data)], capsys)[0] == 0
    rt = Runtime.open(load_settings(data_dir=data))
    try:
        with rt.store.session() as s:
            s.add(Person(email="alice@corp.example", name="Alice"))
    finally:
        rt.close()
    return data


def test_tokens_record_their_creator_and_an_unnamed_one_can_be_attributed_once(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = ["--data-dir", str(data_dir)]
    code, out, _ = run(["token", "create", "soar", "--by", "Alice@corp.example", *d], capsys)
    assert code == 0 and "created by user:Alice@corp.example" in out
    assert "no --by" not in out
    code, out, _ = run(["token", "create", "bootstrap", "-o", "json", *d], capsys)
    assert code == 0 and json.loads(out)["created_by"] == "cli"
    code, out, _ = run(["token", "create", "bootstrap2", *d], capsys)
    assert code == 0 and "no --by" in out and "token attribute" in out

    code, out, _ = run(["token", "list", "-o", "json", *d], capsys)
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["soar"]["created_by"] == "user:Alice@corp.example"
    assert rows["bootstrap"]["created_by"] == "cli"
    assert run(["token", "list", *d], capsys)[0] == 0  # the table has the column (wrapped)

    boot = rows["bootstrap"]["id"]
    code, out, _ = run(["token", "attribute", boot, "--by", "alice@corp.example", *d], capsys)
    assert code == 0 and "user:alice@corp.example" in out
    code, _, err = run(["token", "attribute", boot, "--by", "alice@corp.example", *d], capsys)
    assert code != 0 and "creator_recorded" in err and "Traceback" not in err
    code, out, _ = run(["audit", "log", "-o", "json", *d], capsys)
    (record,) = [r for r in json.loads(out) if r["action"] == "api_token.attribute"]
    assert record["before"] == {"created_by": "cli"}
    assert record["after"] == {"created_by": "user:alice@corp.example"}


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["token", "create", "x", "--by", "nobody"], "no console user or person 'nobody'"),
        (["token", "create", "x", "--by", "a:b"], "without ':'"),
        (["token", "create", "x", "--by", " "], "printable"),
        (["token", "attribute", "no-such-id", "--by", "alice@corp.example"], "no API token"),
        (["token", "attribute", "no-such-id"], "--by"),
    ],
)
def test_bad_creators_are_clear_errors(
    data_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], problem: str
) -> None:
    code, out, err = run([*argv, "--data-dir", str(data_dir)], capsys)
    assert code != 0
    assert problem in out + err and "Traceback" not in out + err
