"""``POST /api/v1/estate/apply`` refuses references to vault secrets that do not exist
(session 14), as ``ringfence apply`` does since 54bab7f.

Before, the REST apply only listed them in ``warnings`` and applied: one call could point a
credential or a route at a misspelt vault name and take the route out of service (503
route_unavailable) with nothing refused. Now it answers 422 problem+json ``missing_secret``
listing each located reference, nothing applied, unless ``?allow_missing_secrets=true``."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.inventory.helpers import SMALL
from tests.inventory.test_session14_missing_secrets import ROUTES

YAML = {"Content-Type": "application/yaml"}
APPLY = "/api/v1/estate/apply"


def _integrations(api: Api) -> int:
    return int(api.get("/api/v1/integrations").json()["total"])


def test_a_new_missing_secret_is_refused_with_each_reference_located(api: Api) -> None:
    r = api.client.post(APPLY, content=SMALL + ROUTES, headers={**api.rw, **YAML})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "missing_secret"
    assert "3 vault secret(s) that do not exist" in body["detail"]
    assert "nothing was applied" in body["detail"]
    assert "allow_missing_secrets=true" in body["detail"]
    assert {e["path"] for e in body["errors"]} == {
        "credentials[0] (chat-bot-token).ref",
        "routes[0] (chat-direct).credential.ref",
        "routes[1] (chat-via-credential).credential.credential",
    }
    assert all(e["file"] == "request body" and e["line"] > 1 for e in body["errors"])
    assert any("'slack/bot' does not exist" in e["message"] for e in body["errors"])
    assert _integrations(api) == 0  # nothing applied
    assert api.get("/api/v1/audit", params={"action": "integration.create"}).json()["items"] == []


def test_allow_missing_secrets_applies_and_warns_then_stored_gaps_only_warn(api: Api) -> None:
    r = api.client.post(
        APPLY, content=SMALL, headers={**api.rw, **YAML}, params={"allow_missing_secrets": "true"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["applied"] is True and _integrations(api) == 1
    [warning] = r.json()["warnings"]
    assert warning["refused_by_apply"] is True and "slack/bot" in warning["message"]
    # The same file again without the flag: the gap is the store's, not this apply's.
    again = api.client.post(APPLY, content=SMALL, headers={**api.rw, **YAML})
    assert again.status_code == 200, again.text
    assert again.json()["warnings"][0]["refused_by_apply"] is False
    # Pointing the credential at another missing secret is refused again.
    moved = SMALL.replace("vault:slack/bot", "vault:slack/bot-v2")
    refused = api.client.post(APPLY, content=moved, headers={**api.rw, **YAML})
    assert refused.status_code == 422 and "'slack/bot-v2'" in refused.text
    exported = api.client.get("/api/v1/estate/export", headers=api.ro).text
    assert "vault:slack/bot-v2" not in exported


def test_a_present_secret_or_an_env_reference_applies_without_the_flag(api: Api) -> None:
    api.runtime.vault.put("slack/bot", "not-a-real-token-1234")
    r = api.client.post(APPLY, content=SMALL, headers={**api.rw, **YAML})
    assert r.status_code == 200, r.text
    assert r.json()["warnings"] == []
    env = SMALL.replace("vault:slack/bot", "${env:SLACK_BOT}")
    assert api.client.post(APPLY, content=env, headers={**api.rw, **YAML}).status_code == 200


def test_a_flag_that_is_not_a_boolean_is_a_422_naming_it(api: Api) -> None:
    r = api.client.post(
        APPLY, content=SMALL, headers={**api.rw, **YAML}, params={"allow_missing_secrets": "sure"}
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "allow_missing_secrets" in r.text
    assert _integrations(api) == 0
