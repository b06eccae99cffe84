"""Review 12: attacker-controlled text on every console page, in a real browser, runs nothing.

The payloads enter through the real paths: an Okta audit record (actor, display name, user
agent) through the monitor and the bundled Sigma rules into an alert; an app a connector
discovered (a shadow-IT name) through the posture checks into stored findings; inventory names
and descriptions (vendor, person, app, integration) through the estate file. The pages are
loaded with the CSP bypassed, so escaping alone must hold (the CSP is the second wall, checked
by tests/web/test_console.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import update

from ringfence.connectors import DiscoveredApp, DiscoveredGrant
from ringfence.demo.upstream import ServerThread
from ringfence.identity.accounts import Accounts
from ringfence.identity.reviews import AccessReviews
from ringfence.identity.settings import IdentitySettings
from ringfence.inventory.estate import apply_estate, parse_estate
from ringfence.monitor.alerts import AlertStore
from ringfence.monitor.detect import SigmaDetector
from ringfence.monitor.parsers import parser_for
from ringfence.monitor.service import Monitor
from ringfence.monitor.sigma.engine import RuleSet
from ringfence.posture.engine import run_checks
from ringfence.posture.lifecycle import sync_findings
from ringfence.runtime import Runtime
from ringfence.store.models import App
from tests.monitor import records as R
from tests.posture.builders import healthy
from tests.web.test_browser import chromium  # noqa: F401  (fixture)
from tests.web.test_console import CHEAP, PASSWORD

pytestmark = pytest.mark.browser

# Each payload sets window.__pwned if it ever runs: element/attribute breakouts, a script
# element, an SVG handler, a closing-tag breakout of a <textarea>/<title>, and a javascript: URL.
PAYLOADS = (
    "<img src=x onerror=window.__pwned=1>",
    '"><svg onload=window.__pwned=2>',
    "'><script>window.__pwned=3</script>",
    "</title></textarea><img src=x onerror=window.__pwned=4>",
    "javascript:window.__pwned=5",
)
P = " ".join(PAYLOADS)
PAGES = (
    "/console/",
    "/console/integrations",
    "/console/alerts",
    "/console/findings",
    "/console/vendors",
    "/console/incidents",
    "/console/reviews",
)


def _yaml(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# A name no URL can reach ('/', '.', '..') is refused at creation since 9ac0c01, but one stored
# before that rule stays (reported, never refused on read): the app's hostile name, with its
# closing tags, is given to the stored row after the estate is applied.
APP_NAME = f"crm {P}"
APP_NAME_ON_APPLY = f"crm {PAYLOADS[0]} {PAYLOADS[1]}"


def _estate() -> str:
    vendor, person, app = (
        _yaml(f"Acme {PAYLOADS[0]}"),
        _yaml(f"Olive {P}"),
        _yaml(APP_NAME_ON_APPLY),
    )
    return f"""\
apiVersion: ringfence/v1
people:
  - {{email: olive@example.com, name: {person}}}
vendors:
  - {{name: {vendor}}}
apps:
  - {{name: {app}, vendor: {vendor}, owner: olive@example.com, clearance: confidential}}
  - {{name: chat, vendor: {vendor}, owner: olive@example.com, clearance: internal}}
integrations:
  - name: {_yaml(f"sync {PAYLOADS[1]}")}
    source: {app}
    destination: chat
    owner: olive@example.com
    description: {_yaml(P)}
    scopes: [{_yaml(f"crm:read {PAYLOADS[2]}")}]
"""


def _alert_from_okta(runtime: Runtime) -> None:
    record = R.okta(
        "user.mfa.factor.deactivate",
        actor={"id": "00u1", "type": "User", "alternateId": f"a{P}@x", "displayName": P},
        client={"userAgent": {"rawUserAgent": P}, "ipAddress": "198.51.100.23"},
        displayMessage=P,
    )
    alerts = AlertStore(runtime.store, runtime.clock)
    monitor = Monitor(runtime.store, runtime.clock, [SigmaDetector(RuleSet.bundled(), alerts)])
    monitor.process(parser_for("okta")(record))
    assert alerts.list(), "the Okta record raised no alert"


def _findings_from_discovery(runtime: Runtime) -> None:
    ctx = healthy()
    assert ctx.saas is not None
    scopes = ("https://www.googleapis.com/auth/drive",)
    ctx.saas.apps.append(DiscoveredApp("google_workspace", "c9", P, "c9", scopes))
    ctx.saas.grants += [
        DiscoveredGrant("google_workspace", f"{u}/c9", P, "c9", u, scopes) for u in ("a@x", "b@x")
    ]
    ctx = replace(ctx, now=runtime.clock.now())
    report = run_checks(ctx)
    assert any(P in f.failure.message for f in report.findings), "no finding names the app"
    with runtime.store.session() as s:
        sync_findings(s, report)


def _review_campaign(runtime: Runtime) -> None:
    # scopes land in attributes (name="keep:{{ sc }}"), the campaign name in an id attribute
    AccessReviews(runtime.store, runtime.clock).create(
        f"q4 {PAYLOADS[1]}",
        scope_kind="app",
        scope_ref="chat",
        due_at=runtime.clock.now() + timedelta(days=14),
        actor="t",
    )


@pytest.fixture
def hostile_console(app: FastAPI, runtime: Runtime) -> Iterator[str]:
    settings = IdentitySettings(
        cookie_secure=False, delay_base_seconds=0, mfa_required_roles=["admin"]
    )
    app.state.identity_settings = settings
    app.state.password_hasher = CHEAP
    apply_estate(runtime.store, parse_estate(_estate()), actor="t", clock=runtime.clock)
    with runtime.store.session() as s:  # a name stored before the rule (see APP_NAME)
        s.execute(update(App).where(App.name == APP_NAME_ON_APPLY).values(name=APP_NAME))
    _alert_from_okta(runtime)
    _findings_from_discovery(runtime)
    _review_campaign(runtime)
    Accounts(runtime.store, runtime.vault, runtime.clock, settings, CHEAP).create_user(
        "ana@example.com", roles=["security-analyst"], password=PASSWORD
    )
    server = ServerThread(app, name="console").start()
    try:
        yield server.url
    finally:
        server.stop()


def test_hostile_saas_and_inventory_text_runs_nothing_on_any_page(
    chromium: Any,  # noqa: F811
    hostile_console: str,
) -> None:
    context = chromium.new_context(bypass_csp=True)  # escaping alone must hold
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{hostile_console}/console/login")
    page.fill("#username", "ana@example.com")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    assert page.locator("h1").inner_text() == "Overview"
    shown: dict[str, str] = {}
    for path in PAGES:
        page.goto(f"{hostile_console}{path}")
        assert page.evaluate("window.__pwned") is None, path
        # No element or handler was made from the data: no <img src=x>, no <svg>, no
        # <script> but none at all (the console has no JavaScript), no javascript: link.
        assert page.locator("img[src=x], svg, script, [onerror], [onload]").count() == 0, path
        assert page.locator("a[href^='javascript:' i]").count() == 0, path
        shown[path] = page.inner_text("main")
    assert PAYLOADS[0] in shown["/console/integrations"]  # shown as text
    assert PAYLOADS[3] in shown["/console/alerts"]
    assert PAYLOADS[4] in shown["/console/findings"]
    assert f"Acme {PAYLOADS[0]}" in shown["/console/vendors"]
    assert f"crm:read {PAYLOADS[2]}" in shown["/console/reviews"]
    boxes = page.locator("input[type=checkbox]")  # the scope's own control, attribute intact
    names = [boxes.nth(i).get_attribute("name") for i in range(boxes.count())]
    assert f"keep:crm:read {PAYLOADS[2]}" in names
    assert dialogs == []
    context.close()
