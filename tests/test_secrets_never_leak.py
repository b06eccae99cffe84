"""No plaintext secret at rest, in logs, in exports or in API responses (DESIGN.md).

Stores a random secret behind every ``vault:`` reference of the example estate, drives the
product through apply / plan / export / the REST API / the audit log with JSON logging on, then
greps every byte it produced — the SQLite file with its WAL, the export, the logs, the API
bodies — for each secret.
"""

from __future__ import annotations

import io
import re
import secrets
from pathlib import Path

from fastapi.testclient import TestClient

from ringfence.api import create_app
from ringfence.core.logging import configure_logging, get_logger
from ringfence.inventory import apply_estate, export_estate, load_estate, plan_estate
from ringfence.runtime import Runtime
from ringfence.store.apitokens import ApiTokens

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "estate.yaml"


def test_no_secret_in_store_logs_export_or_api(runtime: Runtime) -> None:
    log_buffer = io.StringIO()
    configure_logging("json", "debug", stream=log_buffer)
    log = get_logger("leak-test")

    refs = sorted(set(re.findall(r"vault:([A-Za-z0-9._/-]+)", EXAMPLE.read_text())))
    assert len(refs) >= 10, "the example estate should reference vault secrets"
    stored: list[str] = []
    for name in refs:
        value = f"S3CR3T-{secrets.token_hex(16)}"
        runtime.vault.put(name, value)
        stored.append(value)
        # Someone logging carelessly: the redaction processor must catch it.
        log.info("vault_put", name=name, secret=value)
    token = ApiTokens(runtime.store).issue("leak-test", ["read", "write"]).token
    stored.append(token.get_secret_value())
    log.info("token_issued", token=token.get_secret_value())

    estate = load_estate(EXAMPLE)
    apply_estate(runtime.store, estate, actor="leak-test")
    with runtime.store.session() as s:
        assert plan_estate(s, estate).is_empty
    exported = export_estate(runtime.store)

    client = TestClient(create_app(runtime))
    headers = {"Authorization": f"Bearer {token.get_secret_value()}"}
    bodies = []
    for path in (
        "/api/v1/credentials?limit=200",
        "/api/v1/integrations?limit=200",
        "/api/v1/apps?limit=200",
        "/api/v1/audit?limit=500",
    ):
        resp = client.get(path, headers=headers)
        assert resp.status_code == 200, (path, resp.text)
        bodies.append(resp.text)
    # A failed login attempt carrying a secret-looking token must not echo it either.
    bad = client.get("/api/v1/apps", headers={"Authorization": "Bearer " + stored[0]})
    assert bad.status_code == 401
    bodies.append(bad.text)

    # Reading a secret back works (so the test would notice if nothing had been stored).
    assert runtime.vault.get(refs[0]).get_secret_value() == stored[0]

    runtime.store.dispose()
    data_dir = runtime.settings.data_dir
    at_rest = b"".join(p.read_bytes() for p in sorted(data_dir.iterdir()) if p.is_file())
    logs = log_buffer.getvalue()
    assert "vault_put" in logs and "token_issued" in logs
    places = {"export": exported, "logs": logs, "api": "\n".join(bodies)}
    for value in stored:
        assert value.encode() not in at_rest, "plaintext secret in the data directory"
        for where, text in places.items():
            assert value not in text, f"plaintext secret in {where}"
