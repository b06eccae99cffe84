"""`ringfence audit verify` on the keyed chain: a forgery exits 1, a verification that could
not check every keyed record (no master key at hand) exits 3 and says what it did not check."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ringfence.cli import main
from ringfence.store import audit


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _setup(tmp_path: Path, capsys: pytest.CaptureFixture[str], mp: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "rf"
    run(["init", "--data-dir", str(data)], capsys)
    for i in range(3):
        mp.setenv("V", f"value-{i}")
        run(["vault", "put", f"s{i}", "--from-env", "V", "--data-dir", str(data)], capsys)
    return data


def test_verify_reports_the_keyed_part_and_exits_0_when_everything_was_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _setup(tmp_path, capsys, monkeypatch)
    code, out, _ = run(["audit", "verify", "--data-dir", str(data)], capsys)
    assert code == 0 and "intact: 3 records" in out and "keyed from record 1" in out
    code, out, _ = run(["audit", "verify", "--data-dir", str(data), "-o", "json"], capsys)
    body = json.loads(out)
    assert code == 0 and body["ok"] and body["complete"] and body["keyed_from"] == 1
    assert body["unkeyed_records"] == 0 and body["unchecked"] == [] and body["keys_checked"]


def test_verify_without_the_master_key_exits_3_and_names_what_it_did_not_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _setup(tmp_path, capsys, monkeypatch)
    kept = tmp_path / "auditor-copy.key"
    os.replace(data / "master.key", kept)  # an auditor with the database only
    code, out, err = run(["audit", "verify", "--data-dir", str(data)], capsys)
    assert code == 3 and "NOT fully verified" in out
    assert "3 keyed record(s) in 1..3 NOT checked" in err and "Traceback" not in err
    code, out, _ = run(["audit", "verify", "--data-dir", str(data), "-o", "json"], capsys)
    body = json.loads(out)
    assert code == 3 and body["ok"] and not body["complete"]
    assert [(u["first"], u["last"], u["count"]) for u in body["unchecked"]] == [(1, 3, 3)]
    code, out, _ = run(
        ["audit", "verify", "--data-dir", str(data), "--key-file", str(kept)], capsys
    )
    assert code == 0 and "intact" in out
    kept.chmod(0o644)
    code, _, err = run(
        ["audit", "verify", "--data-dir", str(data), "--key-file", str(kept)], capsys
    )
    assert code == 1 and "0600" in err and "Traceback" not in err
    code, _, err = run(
        ["audit", "verify", "--data-dir", str(data), "--key-file", str(tmp_path / "nope")], capsys
    )
    assert code == 1 and "--key-file" in err and "no such file" in err and "Traceback" not in err


def test_verify_exits_1_on_a_record_appended_by_direct_sql(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _setup(tmp_path, capsys, monkeypatch)
    engine = create_engine(f"sqlite:///{data / 'ringfence.db'}")
    with engine.begin() as conn:
        head = conn.execute(
            text("SELECT seq, hash, ts FROM audit_log ORDER BY seq DESC LIMIT 1")
        ).one()
        from datetime import datetime

        ts = datetime.fromisoformat(str(head.ts))
        link = audit.compute_hash(
            seq=head.seq + 1,
            record_id="forged",
            ts=ts,
            actor="cli",
            action="vault.delete",
            entity_type="vault_secret",
            entity_id="s0",
            before=None,
            after=None,
            prev_hash=head.hash,
        )
        conn.execute(
            text(
                "INSERT INTO audit_log (seq, id, ts, actor, action, entity_type, entity_id, "
                "prev_hash, hash) VALUES (:seq, 'forged', :ts, 'cli', 'vault.delete', "
                "'vault_secret', 's0', :prev, :hash)"
            ),
            {"seq": head.seq + 1, "ts": head.ts, "prev": head.hash, "hash": link},
        )
    engine.dispose()
    code, _, err = run(["audit", "verify", "--data-dir", str(data)], capsys)
    assert code == 1 and "record 4" in err and "unkeyed record after the keyed part" in err
    engine = create_engine(f"sqlite:///{data / 'ringfence.db'}")
    with engine.begin() as conn:  # an id that is console markup is shown as it is
        conn.execute(text("UPDATE audit_log SET id = '[blink]x[/blink]' WHERE seq = 4"))
    engine.dispose()
    code, _, err = run(["audit", "verify", "--data-dir", str(data)], capsys)
    assert code == 1 and "([blink]x[/blink])" in err


def test_backup_verify_reports_the_keyed_audit_chain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _setup(tmp_path, capsys, monkeypatch)
    out_file = tmp_path / "b.rfbak"
    code, _, err = run(
        ["backup", "create", "--out", str(out_file), "--data-dir", str(data)], capsys
    )
    assert code == 0, err
    code, out, _ = run(
        ["backup", "verify", str(out_file), "--data-dir", str(data), "-o", "json"], capsys
    )
    body = json.loads(out)
    assert code == 0 and body["audit_chain_ok"] and body["audit_chain_complete"]
    assert body["audit_keyed_from"] == 1
