"""A secret stored in the vault and referenced by a credential never leaves the vault."""

from __future__ import annotations

import io
from pathlib import Path

import structlog
from sqlalchemy import select

from ringfence.core.logging import configure_logging
from ringfence.store.models import AuditRecord
from tests.api.conftest import Api, seed


def test_vault_secret_referenced_by_credential_never_appears(api: Api) -> None:
    secret = "sk_live_" + "Zq3" * 12 + "-never-in-a-response"
    logs = io.StringIO()
    configure_logging("json", "debug", stream=logs)
    try:
        _exercise(api, secret)
    finally:
        structlog.reset_defaults()
    assert '"action": "credential.create"' in logs.getvalue()  # logging was on
    assert secret not in logs.getvalue()


def _exercise(api: Api, secret: str) -> None:
    api.runtime.vault.put("crm/api-key", secret)
    seed(api)
    seen: list[str] = []

    def call(method: str, url: str, body: object = None) -> None:
        r = api.client.request(method, url, json=body, headers=api.rw)
        assert r.status_code < 500, r.text
        seen.append(r.text)
        seen.append(str(r.headers))

    call(
        "POST",
        "/api/v1/credentials",
        {
            "name": "crm-key",
            "kind": "api_key",
            "integration": "crm-to-hris",
            "ref": "vault:crm/api-key",
        },
    )
    call("GET", "/api/v1/credentials/crm-key")
    call("GET", "/api/v1/credentials")
    call("GET", "/api/v1/integrations/crm-to-hris")
    call("PATCH", "/api/v1/credentials/crm-key", {"rotation_days": 30})
    # rejected attempts to put the secret itself somewhere
    call("POST", "/api/v1/credentials", {"name": "bad", "kind": "api_key", "ref": secret})
    call("PATCH", "/api/v1/credentials/crm-key", {"ref": secret})
    call("POST", "/api/v1/vendors", {"name": "V", "secret": secret})
    call("POST", "/api/v1/vendors", {"name": secret * 10})
    call("GET", "/api/v1/audit?limit=1000")
    call("DELETE", "/api/v1/credentials/crm-key")
    call("GET", "/api/v1/audit?limit=1000")
    assert api.runtime.vault.get("crm/api-key").get_secret_value() == secret

    for text in seen:
        assert secret not in text
    assert any("vault:crm/api-key" in text for text in seen)
    with api.runtime.store.session() as s:
        for rec in s.scalars(select(AuditRecord)):
            assert secret not in repr((rec.before, rec.after, rec.actor, rec.entity_id))
    api.runtime.store.dispose()  # flush WAL into the file before grepping it
    data_dir = Path(api.runtime.settings.data_dir)
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".db") for p in files)
    for path in files:
        assert secret.encode() not in path.read_bytes(), path


def test_a_credential_cannot_reference_ringfence_own_keys(api: Api) -> None:
    seed(api)
    body = {"name": "steal", "kind": "api_key", "integration": "crm-to-hris"}
    for ref in ("vault:identity/recovery-code-key", "vault:gateway/signing/any"):
        r = api.post("/api/v1/credentials", json={**body, "ref": ref})
        assert r.status_code == 422 and r.json()["code"] == "reserved_secret", r.text
