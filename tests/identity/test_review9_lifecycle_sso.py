"""Review 9: an SSO sign-in links to a person only through identifiers a trusted party vouched
for, and deprovisioning reaches SSO accounts that are not linked."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from ringfence.identity.models import ConsoleUser
from ringfence.runtime import Runtime
from tests.identity.oidc_provider import LoopbackOidcProvider
from tests.identity.test_oidc import _to_callback, provider, sso_app, web  # noqa: F401

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def _user(runtime: Runtime, subject_sub: str, provider: LoopbackOidcProvider) -> ConsoleUser:
    with runtime.store.session() as s:
        user = s.scalar(
            select(ConsoleUser).where(
                ConsoleUser.sso_subject == f"{provider.issuer}|{subject_sub}"
            )
        )
        assert user is not None
        return user


def test_unverified_preferred_username_never_squats_a_colleagues_identity(
    web: TestClient, provider: LoopbackOidcProvider, runtime: Runtime, scim: TestClient
) -> None:
    """Finding 1: the attacker's preferred_username (the victim's address) became his console
    username; SCIM provisioning the victim then linked him to her person (and integrations),
    and her own SSO sign-in was refused with sso_conflict."""
    victim = "victim@example.com"
    provider.claims = {
        "sub": "attacker",
        "email": "attacker@evil.test",
        "email_verified": False,
        "preferred_username": victim,
        "groups": ["rf-analysts"],
        "amr": ["mfa"],
    }
    assert web.get(_to_callback(web, provider), follow_redirects=False).status_code == 303
    attacker = _user(runtime, "attacker", provider)
    assert attacker.username == f"sso:{victim}"  # never in the email namespace
    assert attacker.username_source == "sso_name" and attacker.person_email is None

    created = scim.post("/scim/v2/Users", json={"schemas": [USER], "userName": victim})
    assert created.status_code == 201, created.text
    assert _user(runtime, "attacker", provider).person_id is None
    web.cookies.clear()
    assert web.get("/api/v1/identity/me").json().get("person_id") is None

    provider.claims = {
        "sub": "victim",
        "email": victim,
        "email_verified": True,
        "groups": ["rf-analysts"],
        "amr": ["mfa"],
    }
    resp = web.get(_to_callback(web, provider), follow_redirects=False)
    assert resp.status_code == 303, resp.text
    real = _user(runtime, "victim", provider)
    assert real.username == victim and real.username_source == "sso_email"
    assert real.person_id == created.json()["id"]


def test_a_verified_sso_user_signing_in_before_scim_is_linked_when_scim_provisions(
    web: TestClient, provider: LoopbackOidcProvider, runtime: Runtime, scim: TestClient
) -> None:
    provider.claims = {
        "sub": "carol",
        "email": "Carol@Example.com",
        "email_verified": True,
        "groups": ["rf-analysts"],
    }
    assert web.get(_to_callback(web, provider), follow_redirects=False).status_code == 303
    assert _user(runtime, "carol", provider).person_id is None
    created = scim.post(
        "/scim/v2/Users", json={"schemas": [USER], "userName": "carol@example.com"}
    )
    assert created.status_code == 201, created.text
    assert _user(runtime, "carol", provider).person_id == created.json()["id"]
