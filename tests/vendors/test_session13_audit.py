"""Session 13 review (low): reading an evidence document leaves an audit record."""

from __future__ import annotations

import base64

from sqlalchemy import select

from ringfence.runtime import Runtime
from ringfence.store.audit import verify
from ringfence.store.models import AuditRecord
from tests.vendors.test_api import Client, V, client  # noqa: F401


def test_downloading_an_evidence_document_is_audited(client: Client, runtime: Runtime) -> None:  # noqa: F811
    up = client.http.post(
        f"{V}/Acme Payroll/documents",
        json={"filename": "soc2.pdf", "content_base64": base64.b64encode(b"%PDF").decode()},
        headers=client.rw,
    )
    doc = up.json()["id"]
    r = client.http.get(f"{V}/documents/{doc}", headers=client.ro)
    assert r.status_code == 200 and r.content == b"%PDF"
    with runtime.store.session() as s:
        rows = s.scalars(
            select(AuditRecord).where(AuditRecord.action == "vendor_risk.document.read")
        ).all()
        assert [(a.actor, a.entity_id) for a in rows] == [("token:vendor-reader", doc)]
    assert verify(runtime.store).ok
    # An unknown document is a 404 and reads nothing.
    assert client.http.get(f"{V}/documents/nope", headers=client.ro).status_code == 404


def test_a_replaced_profile_is_in_the_audit_record(client: Client, runtime: Runtime) -> None:  # noqa: F811
    path = f"{V}/Acme Payroll/profile"
    first = {"breach_notification_address": "breach@acme.example", "tier": "high"}
    assert client.http.put(path, json=first, headers=client.rw).status_code == 200
    swapped = {"breach_notification_address": "drop@attacker.example", "tier": "low"}
    assert client.http.put(path, json=swapped, headers=client.rw).status_code == 200
    with runtime.store.session() as s:
        rows = s.scalars(
            select(AuditRecord)
            .where(AuditRecord.action == "vendor_risk.profile.set")
            .order_by(AuditRecord.seq)
        ).all()
        assert rows[0].before is None
        last = rows[-1]
        assert last.before is not None and last.after is not None
        assert last.before["breach_notification_address"] == "breach@acme.example"
        assert last.before["tier"] == "high"
        assert last.after["breach_notification_address"] == "drop@attacker.example"
    assert verify(runtime.store).ok
