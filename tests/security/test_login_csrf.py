"""Login CSRF: a page on another site must not be able to post the console's sign-in form and
put the visitor's browser into the attacker's session (SameSite cookies set by a cross-site
top-level POST are stored). Browsers label such requests with Origin / Sec-Fetch-Site."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ringfence.identity.accounts import Accounts
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime

PASSWORD = "correct horse battery"


@pytest.fixture
def mallory(runtime: Runtime) -> str:
    Accounts(runtime.store, runtime.vault, runtime.clock, IdentitySettings()).create_user(
        "mallory", roles=["auditor"], password=PASSWORD
    )
    return "mallory"


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"sec-fetch-site": "cross-site"},
        {"referer": "https://evil.example/login.html"},
    ],
)
def test_cross_site_sign_in_form_is_refused(
    client: TestClient, mallory: str, headers: dict[str, str]
) -> None:
    resp = client.post(
        "/auth/login", data={"username": mallory, "password": PASSWORD}, headers=headers
    )
    assert resp.status_code == 403, resp.text
    assert resp.json()["code"] == "csrf"
    assert not any(c.startswith("rf_session=") for c in resp.headers.get_list("set-cookie"))


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"origin": "https://rf.example"},
        {"sec-fetch-site": "same-origin", "origin": "https://rf.example"},
        {"referer": "https://rf.example/login"},
        # behind a proxy that rewrites Host but forwards the original one
        {"origin": "https://console.corp.example", "x-forwarded-host": "console.corp.example"},
    ],
)
def test_same_site_and_non_browser_sign_in_still_works(
    client: TestClient, mallory: str, headers: dict[str, str]
) -> None:
    resp = client.post(
        "/auth/login", data={"username": mallory, "password": PASSWORD}, headers=headers
    )
    assert resp.status_code == 200, resp.text
