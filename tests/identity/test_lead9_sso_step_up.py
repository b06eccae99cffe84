"""A user enrolled in TOTP here who signs in by SSO without the provider asserting MFA must
step up before acting — as their password sign-in would have asked for the code — whatever
their role (session 9: before, only roles with mandatory MFA were held back; an enrolled
analyst got full access through the weaker path)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pyotp
from fastapi.testclient import TestClient

from ringfence.core.clock import FixedClock
from ringfence.runtime import Runtime
from tests.identity.test_review9_auth_mfa_tokens import _sso_sign_in, provider, sso  # noqa: F401


def test_an_enrolled_analyst_by_sso_without_mfa_is_held_until_step_up(
    sso: TestClient,  # noqa: F811
    runtime: Runtime,
) -> None:
    clock = runtime.clock
    assert isinstance(clock, FixedClock)
    _sso_sign_in(sso)
    assert sso.get("/api/v1/integrations").status_code == 200  # not enrolled: role's scopes
    uri = sso.post("/api/v1/identity/me/mfa/totp").json()["provisioning_uri"]
    totp = pyotp.TOTP(parse_qs(urlsplit(uri).query)["secret"][0])
    confirm = sso.post("/api/v1/identity/me/mfa/totp/confirm", json={"code": totp.at(clock.now())})
    assert confirm.status_code == 200, confirm.text
    clock.advance(seconds=30)
    _sso_sign_in(sso)  # the provider asserts no MFA (amr: pwd)
    held = sso.get("/api/v1/integrations")
    assert held.status_code == 403, held.text
    assert sso.get("/api/v1/identity/me").status_code == 200  # self stays reachable
    page = sso.get("/console/integrations", follow_redirects=False)
    assert page.status_code in (302, 303) and "/console/mfa" in page.headers["location"]
    ok = sso.post("/api/v1/identity/me/mfa/verify", json={"code": totp.at(clock.now())})
    assert ok.status_code == 200, ok.text
    sso.headers["X-CSRF-Token"] = ok.json()["csrf_token"]
    assert sso.get("/api/v1/integrations").status_code == 200
