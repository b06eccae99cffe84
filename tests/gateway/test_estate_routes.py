"""The ``routes:`` section: the example estate applies, compiles, and bad routes are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from ringfence.core.clock import FixedClock
from ringfence.gateway.config import GatewayConfig
from ringfence.gateway.policy import PolicyHolder
from ringfence.inventory import apply_estate, load_estate, parse_estate
from ringfence.inventory.estate import EstateInvalid
from ringfence.runtime import Runtime

EXAMPLE = Path(__file__).parents[2] / "examples" / "estate.yaml"


def test_example_estate_routes_apply_and_compile(runtime: Runtime, clock: FixedClock) -> None:
    estate = load_estate(EXAMPLE)
    apply_estate(runtime.store, estate, actor="test", clock=clock)
    runtime.vault.put("salesforce/hubspot-sync/refresh-token", "sf-token")
    runtime.vault.put("okta/workday-provisioning/token", "SSWS okta-token")
    holder = PolicyHolder(runtime.store, runtime.vault, GatewayConfig())
    assert holder.reload(), holder.last_error
    snap = holder.current()
    assert {r.name for r in snap.routes.values()} == {"salesforce-api", "okta-provisioning"}
    # applying the same file again changes nothing
    again = apply_estate(runtime.store, load_estate(EXAMPLE), actor="test", clock=clock)
    assert "routes" not in again.counts() or not any(again.counts().get("routes", {}).values())


def test_route_with_unknown_integration_is_a_located_error() -> None:
    text = """
apiVersion: ringfence/v1
apps: []
integrations: []
routes:
  - name: r1
    app: nothing
    prefix: /x
    upstream: https://api.example.com
    integrations: [ghost]
    operations: [{method: GET, path: /a}]
"""
    with pytest.raises(EstateInvalid) as err:
        parse_estate(text, "e.yaml")
    text_err = str(err.value) + repr(getattr(err.value, "problems", ""))
    assert "ghost" in text_err and "nothing" in text_err


def test_inline_secret_in_route_is_refused() -> None:
    text = """
apiVersion: ringfence/v1
routes:
  - name: r1
    app: a
    prefix: /x
    upstream: https://api.example.com
    integrations: [i]
    credential: {ref: "sk_live_abcdefghijklmnop1234"}
    operations: [{method: GET, path: /a}]
"""
    with pytest.raises(EstateInvalid):
        parse_estate(text, "e.yaml")


def test_routes_round_trip_through_plan(runtime: Runtime, clock: FixedClock) -> None:
    from ringfence.inventory import plan_estate

    apply_estate(runtime.store, load_estate(EXAMPLE), actor="test", clock=clock)
    with runtime.store.session() as s:
        plan = plan_estate(s, load_estate(EXAMPLE))
    assert [c for c in plan.changes if c.section == "routes"] == []
