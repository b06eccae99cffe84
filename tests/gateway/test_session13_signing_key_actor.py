"""A gateway signing key's vault record names who created it, and commits with the key's row
(session 13). Before, the key was sealed in the vault's own transaction, audited as
"ringfence" whoever rotated it, and a failure after it left a sealed key no row names."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ringfence.gateway import tokens
from ringfence.gateway.models import GatewaySigningKey
from ringfence.runtime import Runtime
from ringfence.store.models import AuditRecord


def _vault_actors(rt: Runtime) -> list[tuple[str, str]]:
    with rt.store.session() as s:
        rows = s.execute(
            select(AuditRecord.entity_id, AuditRecord.actor)
            .where(
                AuditRecord.action == "vault.create",
                AuditRecord.entity_id.like("gateway/signing/%"),
            )
            .order_by(AuditRecord.seq)
        )
        return [(str(e), str(a)) for e, a in rows]


def test_signing_key_vault_record_names_the_caller(runtime: Runtime) -> None:
    rt = runtime
    first = tokens.ensure_signing_key(rt.store, rt.vault, rt.clock, actor="cli")
    second = tokens.create_signing_key(rt.store, rt.vault, rt.clock, actor="user:ada")
    assert _vault_actors(rt) == [
        (f"gateway/signing/{first}", "cli"),
        (f"gateway/signing/{second}", "user:ada"),
    ]


def test_a_failed_key_creation_leaves_no_sealed_key(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = runtime

    def broken(*_: object) -> dict[str, str]:
        raise RuntimeError("boom")

    monkeypatch.setattr(tokens, "public_jwk", broken)
    with pytest.raises(RuntimeError):
        tokens.create_signing_key(rt.store, rt.vault, rt.clock)
    assert not [m for m in rt.vault.list() if m.name.startswith("gateway/signing/")]
    assert _vault_actors(rt) == []
    with rt.store.session() as s:
        assert s.scalar(select(GatewaySigningKey.kid)) is None
