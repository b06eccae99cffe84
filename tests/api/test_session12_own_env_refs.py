"""Session 12 API authz review: no reference to Ringfence's own ``RINGFENCE_*`` environment.

Before, ``POST /api/v1/credentials`` (write) took ``ref: "${env:RINGFENCE_MASTER_KEY}"`` (201)
and so did ``/api/v1/estate/apply`` for a credential or a route's ``credential.ref``. The
gateway resolves ``${env:NAME}`` in its own process and injects the value upstream: a route
to a host the writer chose, with such a credential, sent the master key (or the store URL and
its password) to that host. Vault names of Ringfence's own keys were already reserved
(``reserved_secret``); the environment holding the master key was not. Now the credential
routes refuse such a reference with 422 ``reserved_secret``, the estate engine (REST and CLI)
with a located 400 ``estate_invalid``, and nothing is stored.
"""

from __future__ import annotations

import pytest

from tests.api.conftest import Api, store_state

YAML = {"Content-Type": "application/yaml"}
OWN = [
    "${env:RINGFENCE_MASTER_KEY}",
    "${env:RINGFENCE_STORE_URL}",
    "${env:ringfence_new_master_key}",
]
ESTATE = """\
apiVersion: ringfence/v1
vendors:
  - {{name: Acme}}
apps:
  - {{name: crm, vendor: Acme}}
  - {{name: hris, vendor: Acme}}
integrations:
  - {{name: sync, source: crm, destination: hris}}
credentials:
  - {{name: sync-key, kind: api_key, integration: sync, ref: "{cred}"}}
routes:
  - name: crm-api
    app: crm
    prefix: /crm
    upstream: https://crm.example.net/api
    integrations: [sync]
    credential: {{ref: "{route}", scheme: bearer}}
    operations:
      - {{method: GET, path: /contacts, scopes: [crm.read]}}
"""


@pytest.mark.parametrize("ref", OWN)
def test_a_credential_cannot_reference_ringfence_s_own_environment(seeded: Api, ref: str) -> None:
    before = store_state(seeded.runtime)
    body = {"name": "steal", "kind": "api_key", "integration": "chat-bot", "ref": ref}
    created = seeded.post("/api/v1/credentials", body)
    assert created.status_code == 422, created.text
    assert created.json()["code"] == "reserved_secret"
    assert created.json()["errors"][0]["field"] == "ref"
    patched = seeded.patch("/api/v1/credentials/chat-bot-key", {"ref": ref})
    assert patched.status_code == 422 and patched.json()["code"] == "reserved_secret"
    assert store_state(seeded.runtime) == before


def test_other_environment_references_still_work(seeded: Api) -> None:
    ok = {"name": "ok", "kind": "api_key", "integration": "chat-bot", "ref": "${env:RF_BOT_KEY}"}
    assert seeded.post("/api/v1/credentials", ok).status_code == 201
    assert seeded.patch("/api/v1/credentials/ok", {"ref": "${env:RINGFENCEX}"}).status_code == 200


@pytest.mark.parametrize(
    ("cred", "route", "field"),
    [
        (OWN[0], "${env:CRM_TOKEN}", "credentials[0] (sync-key).ref"),
        ("${env:CRM_KEY}", OWN[1], "routes[0] (crm-api).credential"),
    ],
)
def test_the_estate_cannot_reference_ringfence_s_own_environment(
    api: Api, cred: str, route: str, field: str
) -> None:
    text = ESTATE.format(cred=cred, route=route)
    before = store_state(api.runtime)
    for url, headers in (("/api/v1/estate/plan", api.ro), ("/api/v1/estate/apply", api.rw)):
        r = api.client.post(url, content=text, headers={**headers, **YAML})
        # refused by the estate engine itself (the CLI's apply too), located in the file
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "estate_invalid"
        (problem,) = r.json()["errors"]
        assert problem["path"].startswith(field) and "own configuration" in problem["message"]
    assert store_state(api.runtime) == before
    fine = ESTATE.format(cred="${env:CRM_KEY}", route="${env:CRM_TOKEN}")
    applied = api.client.post("/api/v1/estate/apply", content=fine, headers={**api.rw, **YAML})
    assert applied.status_code == 200, applied.text
