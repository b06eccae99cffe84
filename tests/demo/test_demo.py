"""`make demo` works from nothing: init, fakes, estate, discovery, posture, API, gateway."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from ringfence.demo import DemoOptions, run_demo
from ringfence.demo.runner import demo_estate


def test_demo_smoke_runs_the_whole_perimeter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    opts = DemoOptions(data_dir=tmp_path / "rf", api_port=0, gateway_port=0, smoke=True)
    assert run_demo(opts) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Ringfence is running" in out
    assert "shadow-IT" in out and "posture:" in out
    assert "GET /salesforce/query with the" in out
    # The playbooks' sinks point at the demo's SIEM and mail stand-ins.
    monitor_yaml = (tmp_path / "rf" / "monitor.yaml").read_text()
    assert "name: secops, type: webhook" in monitor_yaml and "name: vendor-mail" in monitor_yaml
    assert "secret_vault: 'demo/siem-webhook-key'" in monitor_yaml
    # The estate it applied plans empty against the store: a second run changes nothing.
    from ringfence.core.config import load_settings
    from ringfence.inventory import load_estate, plan_estate
    from ringfence.runtime import Runtime

    rt = Runtime.open(load_settings(data_dir=tmp_path / "rf"))
    try:
        with rt.store.session() as s:
            assert plan_estate(s, load_estate(tmp_path / "rf" / "demo-estate.yaml")).is_empty
        # The console credentials it printed sign in (a security analyst: the demo, and only
        # the demo, lets analysts go without MFA — and says so).
        import re

        from ringfence.identity.accounts import Accounts
        from ringfence.identity.settings import IdentitySettings

        m = re.search(r"user (\S+), password \(shown once\): (\S+)", out)
        assert m, out
        assert "demo only: security analysts sign in without MFA here" in out
        accounts = Accounts(rt.store, rt.vault, rt.clock, IdentitySettings())
        outcome = accounts.login_password(m.group(1), m.group(2))
        assert outcome.username == m.group(1)
        assert outcome.must_enroll_mfa  # by the default settings, a real deployment's
        relaxed = Accounts(
            rt.store, rt.vault, rt.clock, IdentitySettings(mfa_required_roles=["admin"])
        )
        assert not relaxed.login_password(m.group(1), m.group(2)).must_enroll_mfa
        # An open access review for the console's review page, with the gateway's evidence.
        from ringfence.identity.reviews import AccessReviews

        reviews = AccessReviews(rt.store, rt.clock)
        (campaign,) = [c for c in reviews.campaigns() if c.status == "open"]
        items = {i["integration"]: i for i in reviews.items(campaign.id)}
        assert items["hubspot-salesforce-sync"]["used_source"] == "gateway"
        assert items["hubspot-salesforce-sync"]["used_scopes"] == ["api"]
        # The demo API token is the console user's (session 14): what it requests, a
        # colleague approves — and not that user (four eyes); before, it had no creator and
        # nothing it requested could be approved by anyone.
        from ringfence.core.errors import PermissionDeniedError
        from ringfence.respond.engine import Responder

        responder = Responder(rt.store, rt.vault, rt.clock)
        incident, opened = responder.request_revoke("svc-finance-close-bot", actor="token:demo")
        assert opened and incident is not None
        with pytest.raises(PermissionDeniedError, match="which they created"):
            responder.approve(incident, 2, actor=f"user:{m.group(1)}")
        responder.approve(incident, 2, actor="user:a-colleague")
        assert responder.show(incident)["status"] == "contained"
        # Step 5 ran `connectors audit` over the simulated tenants: every vendor's audit log is
        # in monitoring, and the bundled rules that read them fired.
        from ringfence.monitor.alerts import AlertStore
        from ringfence.monitor.storage import EventStore, HuntQuery

        assert re.search(r"audit logs of 5 tenant\(s\) read: \d+ record", out), out
        events = EventStore(rt.store).hunt(HuntQuery(limit=5000))
        sources = {e.source for e in events}
        assert {"okta", "github", "google_workspace", "entra", "m365", "slack"} <= sources
        rules = {a.rule_id for a in AlertStore(rt.store, rt.clock).list(limit=500)}
        m365 = [r for r in rules if "m365" in r or "microsoft" in r.lower()]
        assert len(rules) >= 3 and m365, rules
    finally:
        rt.close()


def test_demo_refuses_a_busy_port(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        opts = DemoOptions(data_dir=tmp_path / "rf", api_port=port, gateway_port=0, smoke=True)
        assert run_demo(opts) == 1
    assert f"port {port}" in capsys.readouterr().out


def test_demo_estate_points_every_route_at_loopback() -> None:
    from ruamel.yaml import YAML

    from ringfence.demo.runner import EXAMPLE_ESTATE

    routes = YAML(typ="safe").load(demo_estate(EXAMPLE_ESTATE, "http://127.0.0.1:9"))["routes"]
    assert routes
    for route in routes:
        assert route["upstream"].startswith("http://127.0.0.1:9/")
        assert route["allow_loopback"] is True
