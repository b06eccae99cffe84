"""``POST /api/v1/estate/apply`` does not revoke an integration alone (session 14).

Revoked is final and needs four eyes (POST /integrations/{ref}/revoke opens a request a second
person approves); a file saying ``status: revoked`` for a stored integration revoked it at
once for anyone with ``write``."""

from __future__ import annotations

from typing import Any

from ringfence.inventory.estate import apply_estate, parse_estate
from tests.api.conftest import Api, store_state

BASE = """\
apiVersion: ringfence/v1
people:
  - {email: ann@example.com, name: Ann}
vendors:
  - {name: Acme}
apps:
  - {name: crm, vendor: Acme, owner: ann@example.com, clearance: confidential}
  - {name: chat, vendor: Acme, owner: ann@example.com, clearance: internal}
integrations:
  - {name: crm-sync, source: crm, destination: chat, owner: ann@example.com, scopes: [read]%s}
"""
YAML = {"Content-Type": "application/yaml"}


def _apply(api: Api, text: str) -> Any:
    return api.client.post("/api/v1/estate/apply", content=text, headers={**api.rw, **YAML})


def test_a_file_cannot_revoke_a_stored_integration_alone(any_api: Api) -> None:
    api = any_api
    assert _apply(api, BASE % "").status_code == 200
    before = store_state(api.runtime)
    for status in ("revoked", "quarantined"):
        r = _apply(api, BASE % f", status: {status}")
        if status == "quarantined":  # reversible: one person may
            assert r.status_code == 200, r.text
            continue
        assert r.status_code == 409
        problem = r.json()
        assert problem["code"] == "four_eyes_required"
        assert problem["integrations"] == ["crm-sync"]
        assert "/api/v1/integrations/{ref}/revoke" in problem["detail"]
        assert store_state(api.runtime) == before  # nothing applied
    # a new integration declared revoked takes nothing away
    old = (
        "  - {name: old-sync, source: crm, destination: chat, owner: ann@example.com, "
        "status: revoked}\n"
    )
    assert _apply(api, (BASE % "") + old).status_code == 200
    # the server's operator (ringfence apply) is not held to it (old-sync stays listed: a
    # revoked integration is kept, test_session14_revoked_delete.py)
    apply_estate(api.runtime.store, parse_estate((BASE % ", status: revoked") + old), actor="cli")
    assert api.get("/api/v1/integrations/crm-sync").json()["status"] == "revoked"
