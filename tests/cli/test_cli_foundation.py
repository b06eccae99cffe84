"""The CLI: init, vault, audit verify — with one clear line and a non-zero exit on errors."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ringfence.cli import main

SECRET = "cli-secret-value-0f9e8d7c6b5a"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_init_creates_data_dir_key_and_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "rf"
    code, out, _ = run(["init", "--data-dir", str(data)], capsys)
    assert code == 0
    assert "created data directory" in out and "master key" in out
    key = data / "master.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (data / "ringfence.db").exists()
    code, out, _ = run(["init", "--data-dir", str(data), "-o", "json"], capsys)
    report = json.loads(out)
    assert code == 0 and report["created_master_key"] is False and report["migrated"] is False


def test_init_in_an_existing_directory_keeps_the_store_owner_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A data directory made beforehand (as the recovery steps say: a new directory, the
    master key copied in) with the usual 0755: the database file is still 0600 — it holds the
    audit log, inventory and password hashes — and init warns about the directory."""
    data = tmp_path / "existing"
    data.mkdir()
    data.chmod(0o755)
    code, _, err = run(["init", "--data-dir", str(data)], capsys)
    assert code == 0
    assert stat.S_IMODE((data / "ringfence.db").stat().st_mode) == 0o600
    assert "warning" in err and "chmod 700" in err
    (data / "ringfence.db").chmod(0o644)  # loosened afterwards: init tightens it again
    code, out, _ = run(["init", "--data-dir", str(data), "-o", "json"], capsys)
    assert code == 0 and json.loads(out)["data_dir_open_to_others"] is True
    assert stat.S_IMODE((data / "ringfence.db").stat().st_mode) == 0o600


def test_bad_paths_and_unknown_schema_are_named_not_internal_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    code, _, err = run(["init", "--data-dir", str(afile)], capsys)
    assert code == 1 and "is a file, not a directory" in err and "internal error" not in err
    data = tmp_path / "rf"
    assert run(["init", "--data-dir", str(data)], capsys)[0] == 0
    missing = tmp_path / "no-such-dir" / "out.yaml"
    code, _, err = run(["export", "--data-dir", str(data), "-o", str(missing)], capsys)
    assert code == 1 and "No such file or directory" in err and str(missing) in err
    assert "internal error" not in err
    code, _, err = run(
        ["backup", "create", "--data-dir", str(data), "--out", str(afile / "b.rfbak")], capsys
    )
    assert code == 1 and str(afile) in err and "internal error" not in err
    # A database a newer release migrated: init says so instead of failing inside Alembic.
    engine = create_engine(f"sqlite:///{data / 'ringfence.db'}")
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE alembic_version SET version_num = 'f00dfeed0001' "
                "WHERE rowid = (SELECT min(rowid) FROM alembic_version)"
            )
        )
    engine.dispose()
    code, _, err = run(["init", "--data-dir", str(data)], capsys)
    assert code == 1 and "f00dfeed0001" in err and "newer release" in err
    assert "internal error" not in err


def test_commands_before_init_say_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["vault", "list", "--data-dir", str(tmp_path / "none")], capsys)
    assert code == 1 and "ringfence init" in err and "Traceback" not in err


def test_vault_put_from_env_and_metadata_never_print_the_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = str(tmp_path / "rf")
    run(["init", "--data-dir", data], capsys)
    monkeypatch.setenv("CRM_SECRET", SECRET)
    code, out, _ = run(
        ["vault", "put", "crm/secret", "--from-env", "CRM_SECRET", "--data-dir", data], capsys
    )
    assert code == 0 and SECRET not in out
    code, out, _ = run(
        ["vault", "get-metadata", "crm/secret", "-o", "json", "--data-dir", data], capsys
    )
    meta = json.loads(out)
    assert code == 0 and meta[0]["version"] == 1 and SECRET not in out
    before = tmp_path / "before.rfbak"
    assert run(["backup", "create", "--data-dir", data, "--out", str(before)], capsys)[0] == 0
    code, out, err = run(["vault", "rotate-master", "--data-dir", data, "-o", "json"], capsys)
    report = json.loads(out)
    assert code == 0 and report["rewrapped"] == 1
    raw = (tmp_path / "rf" / "ringfence.db").read_bytes()
    assert SECRET.encode() not in raw
    # The old key is kept (0600), not lost: the backup made before the rotation needs it.
    retired = Path(report["old_key_file"])
    assert retired.name == f"master.key.retired-{report['old_key_id']}"
    assert stat.S_IMODE(retired.stat().st_mode) == 0o600 and str(retired) in err
    code, _, err = run(["backup", "verify", str(before), "--data-dir", data], capsys)
    assert code == 1 and "load the master key the backup was made with" in err
    monkeypatch.setenv("RINGFENCE_MASTER_KEY_FILE", str(retired))
    assert run(["backup", "verify", str(before), "--data-dir", data], capsys)[0] == 0


def test_vault_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = str(tmp_path / "rf")
    run(["init", "--data-dir", data], capsys)
    code, _, err = run(
        ["vault", "put", "x", "--from-env", "NOPE_NOT_SET", "--data-dir", data], capsys
    )
    assert code == 1 and "NOPE_NOT_SET is not set" in err
    code, _, err = run(["vault", "get-metadata", "missing", "--data-dir", data], capsys)
    assert code == 1 and "no secret named 'missing'" in err and "[not_found]" in err
    monkeypatch.setenv("BAD", "v")
    code, _, err = run(
        ["vault", "put", "bad name", "--from-env", "BAD", "--data-dir", data], capsys
    )
    assert code == 1 and "invalid secret name" in err


def test_audit_verify_names_the_tampered_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "rf"
    run(["init", "--data-dir", str(data)], capsys)
    for i in range(3):
        monkeypatch.setenv("V", f"value-{i}")
        run(["vault", "put", f"s{i}", "--from-env", "V", "--data-dir", str(data)], capsys)
    code, out, err = run(["audit", "verify", "--data-dir", str(data)], capsys)
    assert code == 0 and "intact: 3 records" in out
    # No anchor yet: the operator is told that a cut-off tail would not show.
    assert "without an anchor" in err and "ringfence audit anchor" in err
    code, out, _ = run(["audit", "verify", "--data-dir", str(data), "-o", "json"], capsys)
    assert json.loads(out)["tail_checked"] is False
    engine = create_engine(f"sqlite:///{data / 'ringfence.db'}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2"))
    engine.dispose()
    code, _, err = run(["audit", "verify", "--data-dir", str(data)], capsys)
    assert code == 1 and "record 2" in err and "edited" in err
    code, out, _ = run(["audit", "verify", "--data-dir", str(data), "-o", "json"], capsys)
    assert code == 1 and json.loads(out)["problems"][0]["seq"] == 2


def test_usage_errors_exit_2_without_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["vault", "put"], capsys)
    assert code == 2 and "Traceback" not in err
    code, _, err = run(["no-such-command"], capsys)
    assert code == 2 and "Traceback" not in err


def test_console_script_runs(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("ringfence")
    proc = subprocess.run(
        [str(exe), "init", "--data-dir", str(tmp_path / "rf")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


def test_audit_anchor_then_cut_off_tail_fails_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "rf"
    run(["init", "--data-dir", str(data)], capsys)
    code, _, err = run(["audit", "anchor", "--data-dir", str(data)], capsys)
    assert code == 1 and "empty" in err and "Traceback" not in err
    for i in range(3):
        monkeypatch.setenv("V", f"value-{i}")
        run(["vault", "put", f"s{i}", "--from-env", "V", "--data-dir", str(data)], capsys)
    code, out, _ = run(["audit", "anchor", "--data-dir", str(data), "-o", "json"], capsys)
    assert code == 0 and json.loads(out)["seq"] == 3
    assert (data / "audit-anchors.jsonl").exists()
    code, out, _ = run(["audit", "verify", "--data-dir", str(data)], capsys)
    assert code == 0 and "1 anchor(s) match" in out
    engine = create_engine(f"sqlite:///{data / 'ringfence.db'}")
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    engine.dispose()
    code, _, err = run(["audit", "verify", "--data-dir", str(data)], capsys)
    assert code == 1 and "record 3" in err and "cut off" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"seq": "three"}\n')
    code, _, err = run(["audit", "verify", "--anchors", str(bad), "--data-dir", str(data)], capsys)
    assert code == 1 and "line 1" in err and "`seq`" in err and "Traceback" not in err
    missing = tmp_path / "none.jsonl"
    code, _, err = run(
        ["audit", "verify", "--anchors", str(missing), "--data-dir", str(data)], capsys
    )
    assert code == 1 and "does not exist" in err


def test_backup_create_verify_restore_from_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    data = tmp_path / "rf"
    run(["init", "--data-dir", str(data)], capsys)
    monkeypatch.setenv("V", SECRET)
    run(["vault", "put", "crm/secret", "--from-env", "V", "--data-dir", str(data)], capsys)
    out_file = tmp_path / "b.rfbak"
    code, out, err = run(
        ["backup", "create", "--out", str(out_file), "--data-dir", str(data), "-o", "json"], capsys
    )
    assert code == 0, err
    made = json.loads(out)
    assert made["tables"]["vault_secrets"]["rows"] == 1 and SECRET not in out
    code, out, _ = run(["backup", "verify", str(out_file), "--data-dir", str(data)], capsys)
    assert code == 0 and "every digest matches" in out
    code, out, _ = run(
        ["backup", "verify", str(out_file), "--data-dir", str(data), "-o", "json"], capsys
    )
    checked = json.loads(out)
    assert checked["ok"] and checked["secrets_checked"] == 1 and checked["audit_records"] == 1
    # Disaster recovery: a new data directory holding only the master key.
    fresh = tmp_path / "dr"
    fresh.mkdir(mode=0o700)
    shutil.copy2(data / "master.key", fresh / "master.key")
    prev_umask = os.umask(0o022)  # the usual one; the restored file must not take it
    try:
        code, out, err = run(
            ["backup", "restore", str(out_file), "--data-dir", str(fresh), "-o", "json"], capsys
        )
    finally:
        os.umask(prev_umask)
    assert code == 0, err
    assert json.loads(out)["restored"] is True and json.loads(out)["secrets_checked"] == 1
    # owner only, whatever the umask (it was 0644 under umask 022 until a later `init`)
    assert (fresh / "ringfence.db").stat().st_mode & 0o077 == 0
    code, out, _ = run(["audit", "verify", "--data-dir", str(fresh)], capsys)
    assert code == 0 and "intact: 2 records" in out  # the restored one + `backup.restored`
    # Again into the same (now full) store: refused, nothing touched.
    code, _, err = run(["backup", "restore", str(out_file), "--data-dir", str(fresh)], capsys)
    assert code == 1 and "already holds data" in err and "Traceback" not in err
    broken = tmp_path / "broken.rfbak"
    broken.write_bytes(out_file.read_bytes()[:-10])
    code, _, err = run(["backup", "verify", str(broken), "--data-dir", str(data)], capsys)
    assert code == 1 and "cut off" in err and "Traceback" not in err
    code, _, err = run(
        ["backup", "verify", str(tmp_path / "nope"), "--data-dir", str(data)], capsys
    )
    assert code == 1 and "cannot be read" in err
