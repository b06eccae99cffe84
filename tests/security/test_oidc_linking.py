"""OIDC sign-in must never link an SSO identity to an existing console account through a claim
the user controls at the IdP (``preferred_username``, ``sub``, an unverified ``email``)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from ringfence.identity.accounts import Accounts
from ringfence.identity.models import ConsoleUser
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime
from ringfence.store.models import App, Integration, Person, Vendor
from tests.identity.oidc_provider import OMIT, LoopbackOidcProvider
from tests.security.conftest import oidc_callback_url as _callback


@pytest.fixture
def local_alice(runtime: Runtime) -> dict[str, str]:
    """A local console user ``alice`` (integration owner) who owns one integration."""
    with runtime.store.session() as s:
        vendor = Vendor(name="Acme")
        s.add(vendor)
        s.flush()
        crm = App(name="crm", vendor_id=vendor.id)
        person = Person(email="alice@example.com", name="Alice")
        s.add_all([crm, person])
        s.flush()
        integ = Integration(
            name="alice-sync", destination_app_id=crm.id, owner_id=person.id, scopes=["crm:read"]
        )
        s.add(integ)
        s.flush()
        ids = {"person": person.id, "integration": integ.id}
    accounts = Accounts(runtime.store, runtime.vault, runtime.clock, IdentitySettings())
    accounts.create_user(
        "alice",
        roles=["integration-owner"],
        password="correct horse battery",
        person_email="alice@example.com",
    )
    return ids


@pytest.mark.parametrize(
    "claims",
    [
        {"preferred_username": "alice"},
        {"preferred_username": "alice", "email": "mallory@example.com", "email_verified": False},
        {"sub": "alice"},
    ],
    ids=["preferred_username", "unverified_email", "sub"],
)
def test_sso_cannot_take_over_a_local_account_by_unverified_name(
    sso_app: FastAPI,
    provider: LoopbackOidcProvider,
    runtime: Runtime,
    local_alice: dict[str, str],
    claims: dict[str, object],
) -> None:
    provider.claims = {"groups": ["rf-owners"], "amr": ["mfa"], **claims}
    with TestClient(sso_app, base_url="https://rf.example") as mallory:
        resp = mallory.get(_callback(mallory), follow_redirects=False)
        assert resp.status_code == 403, resp.text
        assert resp.json()["code"] == "sso_conflict"
        got = mallory.get(f"/api/v1/integrations/{local_alice['integration']}")
        assert got.status_code == 401
    with runtime.store.session() as s:
        alice = s.scalar(select(ConsoleUser).where(ConsoleUser.username == "alice"))
        assert alice is not None and alice.sso_subject is None
        assert alice.person_id == local_alice["person"]


def test_sso_with_verified_email_still_links_the_matching_account(
    sso_app: FastAPI, provider: LoopbackOidcProvider, runtime: Runtime
) -> None:
    Accounts(runtime.store, runtime.vault, runtime.clock, IdentitySettings()).create_user(
        "ann@example.com", roles=["auditor"]
    )
    provider.claims = {"email": "ann@example.com", "email_verified": True, "groups": ["rf-owners"]}
    with TestClient(sso_app, base_url="https://rf.example") as ann:
        assert ann.get(_callback(ann), follow_redirects=False).status_code == 303
    with runtime.store.session() as s:
        user = s.scalar(select(ConsoleUser).where(ConsoleUser.username == "ann@example.com"))
        assert user is not None and user.sso_subject is not None


def test_email_without_the_verified_claim_is_not_an_identity(
    sso_app: FastAPI,
    provider: LoopbackOidcProvider,
    runtime: Runtime,
    local_alice: dict[str, str],
) -> None:
    """nOAuth: an IdP that does not vouch for the email (claim absent) must not let a user
    become alice by typing her address: they sign in as their own (sub) account, unlinked."""
    provider.claims = {
        "groups": ["rf-owners"],
        "amr": ["mfa"],
        "email": "alice@example.com",
        "email_verified": OMIT,
    }
    with TestClient(sso_app, base_url="https://rf.example") as mallory:
        resp = mallory.get(_callback(mallory), follow_redirects=False)
        assert resp.status_code == 303, resp.text
        got = mallory.get(f"/api/v1/integrations/{local_alice['integration']}")
        assert got.status_code in (403, 404)
    with runtime.store.session() as s:
        alice = s.scalar(select(ConsoleUser).where(ConsoleUser.username == "alice"))
        assert alice is not None and alice.sso_subject is None
        sso_user = s.scalar(select(ConsoleUser).where(ConsoleUser.sso_subject.is_not(None)))
        assert sso_user is not None and sso_user.username != "alice"
        assert sso_user.person_id is None
