"""``/api/v1/estate``: plan / apply / export over HTTP, with the same checks as the CLI."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from ringfence.api import create_app
from tests.api.conftest import Api, bearer

EXAMPLE = (Path(__file__).parents[2] / "examples" / "estate.yaml").read_text()
SMALL = """\
apiVersion: ringfence/v1
people:
  - {email: ann@example.com, name: Ann}
vendors:
  - {name: Acme}
apps:
  - {name: crm, vendor: Acme, owner: ann@example.com, clearance: confidential}
"""
YAML = {"Content-Type": "application/yaml"}


def test_plan_apply_export_round_trip(api: Api) -> None:
    plan = api.client.post("/api/v1/estate/plan", content=EXAMPLE, headers={**api.ro, **YAML})
    assert plan.status_code == 200, plan.text
    summary = plan.json()["summary"]
    assert summary["create"] > 100 and summary["update"] == summary["delete"] == 0
    assert api.get("/api/v1/integrations").json()["total"] == 0  # plan changed nothing
    applied = api.client.post(
        "/api/v1/estate/apply",
        content=EXAMPLE,
        headers={**api.rw, **YAML, "If-Match": f'"{plan.json()["fingerprint"]}"'},
        params={"allow_missing_secrets": "true"},  # the example's vault entries are not put
    )
    assert applied.status_code == 200, applied.text
    assert applied.json()["applied"] is True and applied.json()["summary"] == summary
    assert api.get("/api/v1/integrations").json()["total"] == 39
    again = api.client.post("/api/v1/estate/plan", content=EXAMPLE, headers={**api.rw, **YAML})
    assert again.json()["summary"] == {"create": 0, "update": 0, "delete": 0}
    exported = api.client.get("/api/v1/estate/export", headers=api.ro)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/yaml")
    assert "hubspot-salesforce-sync" in exported.text
    # The export applies back as a no-op.
    back = api.client.post("/api/v1/estate/plan", content=exported.text, headers={**api.rw, **YAML})
    assert back.json()["summary"] == {"create": 0, "update": 0, "delete": 0}
    # The audit records the API caller as the author.
    audit = api.get("/api/v1/audit", params={"action": "integration.create", "limit": 1}).json()
    assert audit["items"][0]["actor"] == "token:admin-bot"


def test_apply_refuses_a_plan_that_is_no_longer_true(api: Api) -> None:
    reviewed = api.client.post("/api/v1/estate/plan", content=SMALL, headers={**api.rw, **YAML})
    fp = reviewed.json()["fingerprint"]
    # Someone changes the store between review and apply.
    assert api.post("/api/v1/vendors", json={"name": "Acme"}).status_code == 201
    refused = api.client.post(
        "/api/v1/estate/apply", content=SMALL, headers={**api.rw, **YAML, "If-Match": f'"{fp}"'}
    )
    assert refused.status_code == 412
    body = refused.json()
    assert body["code"] == "plan_outdated" and body["fingerprint"] != fp
    assert api.get("/api/v1/apps").json()["total"] == 0  # nothing written
    ok = api.client.post(
        "/api/v1/estate/apply",
        content=SMALL,
        headers={**api.rw, **YAML, "If-Match": f'"{body["fingerprint"]}"'},
    )
    assert ok.status_code == 200 and api.get("/api/v1/apps").json()["total"] == 1


def test_bad_estates_are_refused_with_located_problems(api: Api) -> None:
    rw = {**api.rw, **YAML}
    broken = SMALL.replace("clearance: confidential", "clearance: top-secret")
    r = api.client.post("/api/v1/estate/apply", content=broken, headers=rw)
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    err = r.json()["errors"][0]
    assert err["file"] == "request body" and err["line"] == 7 and "clearance" in err["path"]
    dangling = SMALL.replace("vendor: Acme", "vendor: Nobody")
    r = api.client.post("/api/v1/estate/plan", content=dangling, headers=rw)
    assert r.status_code == 400 and "Nobody" in r.json()["detail"]
    secret = (
        SMALL
        + "credentials:\n  - {name: k, app: crm, kind: api_key, secret: AKIAIOSFODNN7EXAMPLE}\n"
    )
    r = api.client.post("/api/v1/estate/plan", content=secret, headers=rw)
    assert r.status_code == 400 and "AKIAIOSFODNN7EXAMPLE" not in r.text
    assert api.client.post("/api/v1/estate/plan", content=b"", headers=rw).status_code == 400
    assert (
        api.client.post("/api/v1/estate/plan", content=b"\xff\xfe", headers=rw).status_code == 400
    )
    assert api.client.post("/api/v1/estate/plan", content=b"a: [", headers=rw).status_code == 400
    r = api.client.post(
        "/api/v1/estate/plan", content=SMALL, headers={**api.rw, "Content-Type": "text/plain"}
    )
    assert r.status_code == 415 and "application/yaml" in r.json()["detail"]
    big = b"# " + b"x" * (5 * 1024 * 1024)
    assert api.client.post("/api/v1/estate/plan", content=big, headers=rw).status_code == 413
    assert api.get("/api/v1/apps").json()["total"] == 0


def test_scopes(api: Api) -> None:
    assert api.client.post("/api/v1/estate/plan", content=SMALL, headers=YAML).status_code == 401
    ro = {**api.ro, **YAML}
    assert api.client.post("/api/v1/estate/plan", content=SMALL, headers=ro).status_code == 200
    r = api.client.post("/api/v1/estate/apply", content=SMALL, headers=ro)
    assert r.status_code == 403 and "'write'" in r.json()["detail"]
    forged = bearer("rf_cp_" + "A" * 43)
    assert api.client.get("/api/v1/estate/export", headers=forged).status_code == 401


HOSTILE = {
    "python-tag": ("apps: !!python/object/apply:os.system [id]\n", "'!!python/object/apply"),
    "custom-tag": ("apps: !foo [a]\n", "unsupported YAML tag '!foo'"),
    "omap-duplicates": ("apps: !!omap [x: 1, x: 2]\n", "unsupported YAML tag '!!omap'"),
    "deep-brackets": ("apps: " + "[" * 900 + "]" * 900, "nested more than 64 levels deep"),
    "merge-key": ("apps:\n  - &a {name: crm}\n  - {<<: *a}\n", "missing required field 'vendor'"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_yaml_is_a_located_400_for_a_read_token(api: Api, case: str) -> None:
    body, what = HOSTILE[case]
    r = api.client.post(
        "/api/v1/estate/plan",
        content="apiVersion: ringfence/v1\n" + body,
        headers={**api.ro, **YAML},
    )
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert what in r.text and all(e["line"] >= 2 for e in r.json()["errors"])


async def test_a_slow_body_does_not_stall_other_requests(api: Api) -> None:
    """Parsing runs in the threadpool: the event loop keeps serving while a body is parsed."""
    body = "apiVersion: ringfence/v1\nx: [" + ", ".join(["a"] * 60_000) + "]\n"
    transport = httpx.ASGITransport(app=create_app(api.runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://ringfence.test") as c:
        plan = asyncio.create_task(
            c.post("/api/v1/estate/plan", content=body, headers={**api.ro, **YAML})
        )
        served = 0
        while not plan.done():
            assert (await c.get("/api/v1/health")).status_code == 200
            served += 1
        assert (await plan).status_code == 400
    assert served >= 3
