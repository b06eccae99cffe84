"""Rotation checks (RF-CRD-001 / 003 / 009) count from evidence, not from ``rotated_at``.

``rotated_at`` is a claim anyone who may edit the estate (ringfence.yaml, the API) can set. The
checks count a credential's age from what Ringfence recorded itself — the audit record of the
vault version in use, a respond rotation run — and a finding says when a rotation is declared
but not evidenced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from ringfence.core.clock import FixedClock
from ringfence.inventory import apply_estate, parse_estate
from ringfence.posture import RotationEvidence, run_checks
from ringfence.posture.loader import load_context
from ringfence.store.db import Store
from ringfence.store.models import Credential
from ringfence.store.vault import Vault

from .builders import ago, healthy, with_credential

ROTATION_CHECKS = ["RF-CRD-001", "RF-CRD-003", "RF-CRD-009"]


def _result(ctx: object, check_id: str) -> tuple[str, list[str], list[dict[str, object]]]:
    [r] = run_checks(ctx, only=[check_id]).results  # type: ignore[arg-type]
    return r.status, [f.message for f in r.failures], [f.evidence for f in r.failures]


def test_a_declared_rotation_does_not_make_an_old_credential_young() -> None:
    ctx = healthy()
    with_credential(ctx, created_at=ago(200), rotated_at=ago(5), ref="env:CRM_KEY")
    status, [message], [evidence] = _result(ctx, "RF-CRD-001")
    assert status == "fail"
    assert "200 days old" in message and "declared, not evidenced" in message
    assert evidence["rotation"] == "declared, not evidenced"
    assert evidence["declared_rotated_at"] == ago(5).isoformat()


def test_a_new_vault_version_is_evidence_whatever_rotated_at_says() -> None:
    ctx = healthy()
    fresh = RotationEvidence(ago(5), True, "vault:crm-chat-key version 4 (audit record 9)")
    with_credential(ctx, created_at=ago(400), rotated_at=None, rotation_days=30, evidence=fresh)
    for check_id in ROTATION_CHECKS:
        assert _result(ctx, check_id)[0] == "pass", check_id


def test_the_vault_versions_age_wins_over_a_later_claim() -> None:
    ctx = healthy()
    stale = RotationEvidence(ago(150), True, "vault:crm-chat-key version 2 (audit record 3)")
    with_credential(ctx, created_at=ago(10), rotated_at=ago(1), rotation_days=60, evidence=stale)
    for check_id in ("RF-CRD-001", "RF-CRD-009"):
        status, [message], [evidence] = _result(ctx, check_id)
        assert status == "fail" and "150 days" in message, check_id
        assert "declared, not evidenced" in message
        assert evidence["evidenced_by"] == stale.source


def test_never_rotated_says_a_declared_rotation_is_not_evidenced() -> None:
    ctx = healthy()
    first = RotationEvidence(ago(60), False, "vault:crm-chat-key version 1 (audit record 2)")
    with_credential(ctx, created_at=ago(60), rotated_at=ago(3), evidence=first)
    status, [message], [evidence] = _result(ctx, "RF-CRD-003")
    assert status == "fail"
    assert "declared, not evidenced" in message and "version 1" in message
    assert evidence["rotation"] == "declared, not evidenced"
    # Without any evidence (a reference outside the vault) the claim is not enough either.
    with_credential(ctx, ref="env:CRM_KEY", evidence=None)
    assert _result(ctx, "RF-CRD-003")[0] == "fail"


def test_rotation_overdue_does_not_take_the_claim() -> None:
    ctx = healthy()
    with_credential(ctx, created_at=ago(60), rotated_at=ago(1), rotation_days=30)
    status, [message], _ = _result(ctx, "RF-CRD-009")
    assert status == "fail" and "declared, not evidenced" in message


# -- from the store ---------------------------------------------------------------------------
NOW = datetime(2026, 3, 1, tzinfo=UTC)
ESTATE = """
apiVersion: ringfence/v1
vendors: [{name: Acme}]
apps:
  - {name: CRM, vendor: Acme, base_urls: ["https://crm.acme.example"]}
integrations:
  - {name: crm-sync, kind: service_account, destination: CRM}
credentials:
  - {name: crm-key, kind: api_key, integration: crm-sync, ref: "vault:crm/key"}
  - {name: env-key, kind: api_key, integration: crm-sync, ref: "${env:CRM_ENV_KEY}"}
"""


@pytest.fixture
def estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("RINGFENCE_MASTER_KEY", "C" * 43 + "=")
    store = Store(f"sqlite:///{tmp_path / 'p.db'}")
    store.migrate()
    apply_estate(store, parse_estate(ESTATE), clock=FixedClock(NOW - timedelta(days=200)))
    return store


def test_the_loader_takes_the_vault_versions_audit_record_as_evidence(estate: Store) -> None:
    clock = FixedClock(NOW - timedelta(days=120))
    vault = Vault(estate, None, clock=clock)
    vault.put("crm/key", "first-value")
    with estate.session() as s:  # an estate writer claims both were rotated yesterday
        s.execute(
            update(Credential).values(
                created_at=NOW - timedelta(days=200), rotated_at=NOW - timedelta(days=1)
            )
        )
    with estate.session() as s:
        ctx = load_context(s, NOW)
    facts = {c.name: c for c in ctx.credentials}
    assert facts["env-key"].evidence is None
    crm = facts["crm-key"].evidence
    assert crm is not None and not crm.rotated
    assert crm.current_since == NOW - timedelta(days=120)
    assert crm.source.startswith("vault:crm/key version 1 (audit record")
    report = {r.meta.id: r for r in run_checks(ctx, only=ROTATION_CHECKS[:2]).results}
    old = {f.resource_id: f.message for f in report["RF-CRD-001"].failures}
    assert set(old) == {"crm-key", "env-key"}
    assert "120 days old" in old["crm-key"] and "200 days old" in old["env-key"]
    assert all("declared, not evidenced" in m for m in old.values())
    assert {f.resource_id for f in report["RF-CRD-003"].failures} == {"crm-key", "env-key"}
    # A real rotation: a new version through the vault.
    clock.advance(days=118)
    vault.put("crm/key", "second-value")
    with estate.session() as s:
        ctx = load_context(s, NOW)
    crm = {c.name: c for c in ctx.credentials}["crm-key"].evidence
    assert crm is not None and crm.rotated and crm.current_since == NOW - timedelta(days=2)
    report = {r.meta.id: r for r in run_checks(ctx, only=ROTATION_CHECKS[:2]).results}
    assert {f.resource_id for f in report["RF-CRD-001"].failures} == {"env-key"}
    assert {f.resource_id for f in report["RF-CRD-003"].failures} == {"env-key"}
    estate.dispose()
