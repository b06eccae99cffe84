"""API6:2023 Unrestricted Access to Sensitive Business Flows — per-flow quotas."""

from __future__ import annotations

from tests.gateway.conftest import Env


async def test_export_flow_is_throttled_per_integration(env: Env) -> None:
    ta = await env.token(env.a)
    tb = await env.token(env.b)
    codes = [
        (await env.http.post("/crm/exports", headers={"authorization": f"Bearer {ta}"})).status_code
        for _ in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]
    # another integration has its own quota
    r = await env.http.post("/crm/exports", headers={"authorization": f"Bearer {tb}"})
    assert r.status_code == 200
    assert env.audit.events[-2].reason == "quota_exceeded"
