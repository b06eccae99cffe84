"""Session 14: every questionnaire export writes an audit record (who, which, format)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import select

from ringfence.core.config import load_settings
from ringfence.runtime import Runtime
from ringfence.store.audit import verify
from ringfence.store.models import AuditRecord
from tests.vendors.test_api import Client, V, _send, client  # noqa: F401
from tests.vendors.test_cli import data_dir, run  # noqa: F401

EXPORT = "vendor_risk.assessment.export"


def _exports(runtime: Runtime) -> list[AuditRecord]:
    with runtime.store.session() as s:
        rows = s.scalars(
            select(AuditRecord).where(AuditRecord.action == EXPORT).order_by(AuditRecord.seq)
        ).all()
        s.expunge_all()
        return list(rows)


def test_an_api_export_is_audited_with_reader_vendor_and_format(
    client: Client,  # noqa: F811
    runtime: Runtime,
) -> None:
    aid = _send(client)["id"]
    for fmt in ("xlsx", "csv"):
        r = client.http.get(f"{V}/assessments/{aid}/export?format={fmt}", headers=client.ro)
        assert r.status_code == 200
    rows = _exports(runtime)
    assert [(a.actor, a.entity_id, a.after["format"]) for a in rows if a.after] == [
        ("token:vendor-reader", aid, "xlsx"),
        ("token:vendor-reader", aid, "csv"),
    ]
    after = rows[-1].after or {}
    assert after["vendor"] == "Acme Payroll"
    assert after["sha256"] == hashlib.sha256(r.content).hexdigest()
    assert verify(runtime.store).ok
    # A refused export (unknown assessment, bad format) reads nothing and records nothing.
    assert client.http.get(f"{V}/assessments/nope/export", headers=client.ro).status_code == 404
    r = client.http.get(f"{V}/assessments/{aid}/export?format=pdf", headers=client.ro)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem")
    assert len(_exports(runtime)) == 2


def test_a_cli_export_is_audited_as_the_cli(
    data_dir: str,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    d = ["--data-dir", data_dir]
    code, out, _ = run(["vendors", "send", "Acme Payroll", "-o", "json", *d], capsys)
    assert code == 0
    import json

    aid = json.loads(out)["assessment_id"]
    code, _, _ = run(["vendors", "export", aid, "--out", str(tmp_path / "q.csv"), *d], capsys)
    assert code == 0
    rt = Runtime.open(load_settings(data_dir=Path(data_dir)))
    try:
        rows = _exports(rt)
    finally:
        rt.close()
    assert [(a.actor, a.entity_id, (a.after or {}).get("format")) for a in rows] == [
        ("cli", aid, "csv")
    ]


def test_an_export_to_an_unwritable_path_is_refused_before_it_is_read(
    data_dir: str,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    d = ["--data-dir", data_dir]
    code, out, _ = run(["vendors", "send", "Acme Payroll", "-o", "json", *d], capsys)
    aid = json.loads(out)["assessment_id"]
    for bad in (tmp_path / "missing" / "q.csv", tmp_path):  # no directory; a directory
        target = bad if bad.suffix else bad.with_suffix(".csv")
        if bad == tmp_path:
            target.mkdir()
        code, _, err = run(["vendors", "export", aid, "--out", str(target), *d], capsys)
        assert code == 1 and "cannot write" in err and "Traceback" not in err
    rt = Runtime.open(load_settings(data_dir=Path(data_dir)))
    try:
        assert _exports(rt) == []  # nothing was read, nothing recorded as taken
    finally:
        rt.close()
