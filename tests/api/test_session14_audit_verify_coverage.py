"""Session 14: ``GET /api/v1/audit/verify`` says what it could not check, as ``ringfence audit
verify`` does (exit 3): records linked with a master key the server does not hold are listed
in ``unchecked`` and ``complete`` is false — before, the answer said ``ok: true`` alone, so an
auditor reading it could not tell a checked chain from one whose keyed MACs went unchecked."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ringfence.api import create_app
from ringfence.runtime import Runtime
from ringfence.store.models import AuditRecord
from tests.api.conftest import Api


def test_a_fully_checked_chain_is_complete(api: Api) -> None:
    assert api.post("/api/v1/vendors", {"name": "Acme"}).status_code == 201
    body = api.client.get("/api/v1/audit/verify", headers=api.ro).json()
    assert body["ok"] is True and body["complete"] is True
    assert body["keyed_from"] == 1 and body["unkeyed_records"] == 0
    assert body["keys_checked"] == [api.runtime.vault.master_key_id]
    assert body["unchecked"] == []
    assert body["coverage"][0] == "every record is keyed"


def test_records_whose_key_the_server_does_not_hold_are_reported_unchecked(
    api: Api, tmp_path: Path
) -> None:
    rt = api.runtime
    assert api.post("/api/v1/vendors", {"name": "Acme"}).status_code == 201
    old_id = rt.vault.master_key_id
    rt.vault.rotate_master(actor="cli")
    retired = rt.vault.retired_key_file
    assert retired is not None and retired.exists()
    os.replace(retired, tmp_path / "offline.key")  # moved offline with the old backups
    with rt.store.session() as s:
        rotation = s.scalar(select(func.max(AuditRecord.seq)).where(AuditRecord.key_id == old_id))
    fresh = Runtime.open(rt.settings, clock=api.clock)  # a server holding only the new key
    try:
        with TestClient(create_app(fresh), raise_server_exceptions=False) as client:
            made = client.post("/api/v1/vendors", json={"name": "Globex"}, headers=api.rw)
            assert made.status_code == 201  # a record linked with the new key
            answer = client.get("/api/v1/audit/verify", headers=api.ro)
    finally:
        fresh.close()
    assert answer.status_code == 200
    body = answer.json()
    assert body["ok"] is True and body["complete"] is False
    assert body["unchecked"] == [
        {"key_id": old_id, "first": 1, "last": rotation, "count": rotation}
    ]
    assert body["keys_checked"] == [fresh.vault.master_key_id]
    assert any("NOT checked" in line for line in body["coverage"])


def test_the_openapi_document_describes_the_coverage(api: Api) -> None:
    doc = api.client.get("/api/v1/openapi.json").json()
    schema = doc["components"]["schemas"]["AuditVerifyOut"]
    assert {"complete", "keyed_from", "unchecked", "coverage"} <= set(schema["required"])
    assert "UncheckedRecordsOut" in doc["components"]["schemas"]
