"""The console in a real browser (Debian's Chromium driven by Playwright) against the real API
server on loopback: sign-in, MFA enrolment from the page's own key, quarantine by a button,
escaping of hostile text, sign-out. Without Chromium: skipped, or failed when
RINGFENCE_REQUIRE_SERVICES=1 (CI installs it)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from ringfence.demo.upstream import ServerThread
from ringfence.identity.accounts import Accounts
from ringfence.identity.settings import IdentitySettings
from ringfence.inventory.estate import apply_estate, parse_estate
from ringfence.runtime import Runtime
from ringfence.store.models import Integration, IntegrationStatus
from tests.services import unavailable
from tests.web.test_console import CHEAP, ESTATE, PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def chromium() -> Iterator[Any]:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        unavailable("Chromium", "no chromium on PATH (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"], headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def console(app: FastAPI, runtime: Runtime) -> Iterator[str]:
    # Plain HTTP on loopback in the test, so the cookies cannot carry the Secure flag here
    # (tests/identity checks that they do by default).
    settings = IdentitySettings(cookie_secure=False, delay_base_seconds=0)
    app.state.identity_settings = settings
    app.state.password_hasher = CHEAP
    apply_estate(runtime.store, parse_estate(ESTATE), actor="t", clock=runtime.clock)
    Accounts(runtime.store, runtime.vault, runtime.clock, settings, CHEAP).create_user(
        "root@example.com", roles=["admin"], password=PASSWORD
    )
    server = ServerThread(app, name="console").start()
    try:
        yield server.url
    finally:
        server.stop()


def test_admin_signs_in_enrols_mfa_and_quarantines_from_the_browser(
    chromium: Any, console: str, runtime: Runtime
) -> None:
    page = chromium.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{console}/console/")
    assert page.url.endswith("/console/login")
    page.fill("#username", "root@example.com")
    page.fill("#password", "wrong password!!")
    page.click("button[type=submit]")
    assert "invalid username or password" in page.inner_text("[role=alert]")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    assert page.url.endswith("/console/mfa")  # admins enrol before anything else
    secret = page.inner_text("#secret")
    assert page.locator("img[alt^='QR code']").count() == 1
    # runtime.clock is the fixed test clock: the server checks codes against it.
    page.fill("#code", pyotp.TOTP(secret).at(runtime.clock.now()))
    page.click("button:has-text('Confirm')")
    assert page.locator("ul.codes li").count() == 10, page.inner_text("main")
    page.click("text=Continue to the console")
    assert page.locator("h1").inner_text() == "Overview"
    page.click("nav >> text=Integrations")
    row = page.locator("#integration-crm-sync")
    assert "active" in row.inner_text()
    assert "<script>alert('x')</script>" in row.inner_text()  # shown as text, not run
    row.locator("button", has_text="Quarantine").click()
    assert "quarantined" in page.locator("#integration-crm-sync").inner_text()
    with runtime.store.session() as s:
        integ = s.scalars(select(Integration).where(Integration.name == "crm-sync")).one()
        assert integ.status is IntegrationStatus.QUARANTINED
    page.click("text=Sign out")
    assert page.url.endswith("/console/login")
    page.goto(f"{console}/console/integrations")
    assert page.url.endswith("/console/login")  # the session is gone
    assert dialogs == []  # no script ever ran
