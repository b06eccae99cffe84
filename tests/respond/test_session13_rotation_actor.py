"""A rotation's new secret is audited in the vault as the incident that stored it (session 13).
Before, the vault record said "ringfence": the audit log could not tie the overwritten
credential to the incident (and its approver) that replaced it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ringfence.core.clock import FixedClock
from ringfence.inventory.estate import apply_estate, parse_estate
from ringfence.respond import Responder
from ringfence.runtime import Runtime
from ringfence.store.models import AuditRecord
from tests.respond.test_rotation import _config, _estate, _open, _step


def test_the_rotated_secret_is_audited_as_the_incident(
    runtime: Runtime, clock: FixedClock, fakes: dict[str, Any]
) -> None:
    server = fakes["okta"]
    text = _estate("hr-insights-client", "okta")
    apply_estate(runtime.store, parse_estate(text), actor="t", clock=clock)
    runtime.vault.put("crm/client-secret", "the-leaked-secret", actor="cli")
    r = Responder(
        runtime.store, runtime.vault, clock, connectors={"okta": _config("okta", server.url)}
    )
    incident = _open(r)
    assert _step(r, incident)["status"] == "done"
    with runtime.store.session() as s:
        records = s.execute(
            select(AuditRecord.action, AuditRecord.actor)
            .where(AuditRecord.entity_id == "crm/client-secret")
            .order_by(AuditRecord.seq)
        ).all()
    assert [tuple(x) for x in records] == [
        ("vault.create", "cli"),
        ("vault.update", f"incident:{incident}"),
    ]
