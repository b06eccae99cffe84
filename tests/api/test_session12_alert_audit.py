"""Session 12 API authz review: acknowledging or closing an alert is audited with the caller.

Before, ``POST /api/v1/monitor/alerts/{id}/close`` (and ``ack``) changed the alert and wrote
no audit record: whoever held ``write`` — a log shipper's token included — could close the
alert about their own activity (a closed alert opens no incident) and leave no trace of who.
"""

from __future__ import annotations

import orjson
from sqlalchemy import select

from ringfence.store import audit as chain
from ringfence.store.models import AuditRecord
from tests.api.conftest import Api
from tests.monitor import records as R


def _raise_alert(api: Api) -> str:
    r = api.client.post(
        "/api/v1/monitor/ingest/okta",
        content=orjson.dumps(R.okta("user.mfa.factor.deactivate")),
        headers={**api.rw, "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    (alert,) = api.get("/api/v1/monitor/alerts").json()
    alert_id: str = alert["id"]
    return alert_id


def _alert_records(api: Api, alert_id: str) -> list[tuple[str, str, dict[str, object] | None]]:
    with api.runtime.store.session() as s:
        rows = s.scalars(
            select(AuditRecord)
            .where(AuditRecord.entity_type == "alert", AuditRecord.entity_id == alert_id)
            .order_by(AuditRecord.seq)
        ).all()
        return [(r.actor, r.action, r.after) for r in rows]


def test_ack_and_close_are_audited_with_the_caller(api: Api) -> None:
    alert_id = _raise_alert(api)
    assert api.post(f"/api/v1/monitor/alerts/{alert_id}/ack").json()["status"] == "acknowledged"
    assert api.post(f"/api/v1/monitor/alerts/{alert_id}/close").json()["status"] == "closed"
    records = _alert_records(api, alert_id)
    assert [(actor, action) for actor, action, _ in records] == [
        ("token:admin-bot", "alert.acknowledge"),
        ("token:admin-bot", "alert.close"),
    ]
    after = records[-1][2] or {}
    assert (after["status"], after["rule"]) == ("closed", "rf_okta_mfa_removed")
    assert chain.verify(api.runtime.store).ok


def test_a_refused_change_writes_no_record(api: Api) -> None:
    alert_id = _raise_alert(api)
    ro = api.client.post(f"/api/v1/monitor/alerts/{alert_id}/close", headers=api.ro)
    assert ro.status_code == 403
    assert api.post(f"/api/v1/monitor/alerts/{alert_id}/snooze").status_code == 404
    assert _alert_records(api, alert_id) == []
