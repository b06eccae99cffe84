"""The estate and inventory commands: plan / apply / export / inventory list|show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ringfence.cli import main
from tests.inventory.helpers import SMALL

SECRET = "inline-Secret-value-9f8e7d"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> str:
    """An initialised data directory whose vault holds the secret SMALL references (apply
    refuses a new reference to a vault secret that does not exist)."""
    d = str(tmp_path / "rf")
    assert run(["init", "--data-dir", d], capsys)[0] == 0
    monkeypatch.setenv("RF_TEST_BOT_TOKEN", "not-a-real-token-1234")
    put = ["vault", "put", "slack/bot", "--from-env", "RF_TEST_BOT_TOKEN", "--data-dir", d]
    assert run(put, capsys)[0] == 0
    return d


@pytest.fixture
def estate_file(tmp_path: Path) -> Path:
    path = tmp_path / "ringfence.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return path


def test_plan_apply_apply_again_export_round_trip(
    data: str, estate_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["plan", "-f", str(estate_file), "--data-dir", data, "-o", "json"], capsys)
    assert code == 0
    plan = json.loads(out)
    assert plan["summary"] == {"create": 9, "update": 0, "delete": 0}
    code, out, _ = run(
        ["plan", "-f", str(estate_file), "--data-dir", data, "--detailed-exitcode"], capsys
    )
    assert code == 2 and "9 to create" in out

    code, out, _ = run(["apply", "-f", str(estate_file), "--data-dir", data], capsys)
    assert code == 0 and "9 created, 0 updated, 0 deleted" in out
    code, out, _ = run(["apply", "-f", str(estate_file), "--data-dir", data], capsys)
    assert code == 0 and "No changes" in out

    exported = tmp_path / "exported.yaml"
    code, _, err = run(["export", "-o", str(exported), "--data-dir", data], capsys)
    assert code == 0 and "wrote" in err
    code, out, _ = run(
        ["plan", "-f", str(exported), "--data-dir", data, "--detailed-exitcode", "-o", "json"],
        capsys,
    )
    assert code == 0 and json.loads(out)["changes"] == []
    code, out, _ = run(["export", "--data-dir", data], capsys)
    assert code == 0 and out == exported.read_text(encoding="utf-8")

    code, out, _ = run(["audit", "log", "--data-dir", data, "-o", "json"], capsys)
    assert code == 0 and {r["actor"] for r in json.loads(out)} == {"cli"}


def test_update_plan_shows_field_diff(
    data: str, estate_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["apply", "-f", str(estate_file), "--data-dir", data, "--actor", "ci"], capsys)
    estate_file.write_text(SMALL.replace("rotation_days: 90", "rotation_days: 30"), "utf-8")
    code, out, _ = run(["plan", "-f", str(estate_file), "--data-dir", data, "-o", "json"], capsys)
    (change,) = json.loads(out)["changes"]
    assert change["action"] == "update" and change["kind"] == "credential"
    assert change["fields"] == [{"field": "rotation_days", "before": 90, "after": 30}]
    code, out, _ = run(["plan", "-f", str(estate_file), "--data-dir", data], capsys)
    assert code == 0 and "rotation_days: 90 → 30" in out


def test_invalid_file_prints_located_problems_and_changes_nothing(
    data: str, estate_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["apply", "-f", str(estate_file), "--data-dir", data], capsys)
    _, before, _ = run(["export", "--data-dir", data], capsys)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        SMALL.replace("    ref: vault:slack/bot\n", f"    ref: {SECRET}\n").replace(
            "  - name: Chat\n", "  - name: Chat\n    colour: blue\n"
        ),
        encoding="utf-8",
    )
    code, out, err = run(["apply", "-f", str(bad), "--data-dir", data], capsys)
    assert code == 1
    assert f"{bad}:20:5: apps[1] (Chat).colour: unknown field 'colour'" in err
    assert f"{bad}:35:10: credentials[0] (chat-bot-token).ref" in err
    assert "nothing was changed" in err and "Traceback" not in err
    assert SECRET not in out + err
    code, out, _ = run(["apply", "-f", str(bad), "--data-dir", data, "-o", "json"], capsys)
    report = json.loads(out)
    assert code == 1 and report["valid"] is False and len(report["errors"]) == 2
    assert report["errors"][0] == {
        "file": str(bad),
        "line": 20,
        "column": 5,
        "path": "apps[1] (Chat).colour",
        "message": "unknown field 'colour' (allowed: base_urls, category, clearance, "
        "data_classes, name, owner, retention_days, sanctioned, vendor)",
    }
    _, after, _ = run(["export", "--data-dir", data], capsys)
    assert after == before
    for args in (["plan", "-f", str(tmp_path / "missing.yaml")], ["plan"]):
        code, _, err = run([*args, "--data-dir", data], capsys)
        assert code != 0 and "Traceback" not in err


def test_inventory_list_and_show(
    data: str, estate_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["apply", "-f", str(estate_file), "--data-dir", data], capsys)

    def listing(*args: str) -> list[dict[str, object]]:
        code, out, err = run(["inventory", "list", *args, "--data-dir", data, "-o", "json"], capsys)
        assert code == 0, err
        rows: list[dict[str, object]] = json.loads(out)
        return rows

    assert [r["name"] for r in listing("apps")] == ["Chat", "CRM"]
    assert [r["name"] for r in listing("apps", "--vendor", "Salesforce")] == ["CRM"]
    assert [r["name"] for r in listing("apps", "--owner", "ada@northwind.example")] == ["CRM"]
    assert listing("apps", "--status", "unsanctioned") == []
    assert [r["name"] for r in listing("integrations", "--status", "active")] == ["crm-to-chat"]
    assert listing("integrations", "--status", "quarantined") == []
    assert [r["ref"] for r in listing("credentials")] == ["vault:slack/bot"]
    assert [r["name"] for r in listing("flows", "--data-class", "internal")] == ["deals-to-chat"]
    assert [r["email"] for r in listing("people")] == [
        "ada@northwind.example",
        "bob@northwind.example",
    ]
    assert [r["apps"] for r in listing("vendors")] == [1, 1]

    code, out, _ = run(
        ["inventory", "show", "integrations", "crm-to-chat", "--data-dir", data, "-o", "json"],
        capsys,
    )
    shown = json.loads(out)
    assert code == 0 and shown["credentials"] == [
        {"name": "chat-bot-token", "kind": "api_key", "ref": "vault:slack/bot"}
    ]
    assert shown["flows"] == ["deals-to-chat"]
    code, out, _ = run(["inventory", "show", "apps", "CRM", "--data-dir", data], capsys)
    assert code == 0 and "confidential" in out

    code, out, _ = run(["inventory", "summary", "--data-dir", data, "-o", "json"], capsys)
    summary = {r["kind"]: r for r in json.loads(out)}
    assert code == 0 and summary["apps"]["count"] == 2 and summary["flows"]["count"] == 1
    assert summary["integrations"]["detail"] == "1 active"
    assert summary["credentials"]["detail"] == "1 in the vault"

    code, _, err = run(["inventory", "show", "apps", "Nope", "--data-dir", data], capsys)
    assert code == 1 and "no app named 'Nope'" in err
    code, _, err = run(["inventory", "list", "flows", "--vendor", "x", "--data-dir", data], capsys)
    assert code == 1 and "cannot be filtered by --vendor" in err
    code, _, err = run(
        ["inventory", "list", "integrations", "--status", "paused", "--data-dir", data], capsys
    )
    assert code == 1 and "unknown integration status 'paused'" in err
    code, _, err = run(["inventory", "list", "gadgets", "--data-dir", data], capsys)
    assert code != 0 and "Traceback" not in err


def test_secrets_stay_in_the_vault_never_in_store_rows_exports_or_output(
    data: str,
    estate_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLACK_BOT", SECRET)
    code, _, _ = run(
        ["vault", "put", "slack/bot", "--from-env", "SLACK_BOT", "--data-dir", data], capsys
    )
    assert code == 0
    outputs = []
    for argv in (
        ["apply", "-f", str(estate_file)],
        ["export"],
        ["inventory", "list", "credentials", "-o", "json"],
        ["inventory", "show", "credentials", "chat-bot-token", "-o", "json"],
        ["audit", "log", "-o", "json"],
    ):
        code, out, err = run([*argv, "--data-dir", data], capsys)
        assert code == 0, err
        outputs.append(out + err)
    assert "vault:slack/bot" in outputs[1]
    assert all(SECRET not in o for o in outputs)
    raw = b"".join(p.read_bytes() for p in Path(data).glob("ringfence.db*"))
    assert raw and SECRET.encode() not in raw
