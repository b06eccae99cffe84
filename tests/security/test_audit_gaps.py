"""Every change to an account's security state leaves an audit record: starting a new TOTP
enrolment (it replaces the stored seed) and signing out (it ends a session)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from ringfence.identity.accounts import Accounts
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime
from ringfence.store import audit
from ringfence.store.models import AuditRecord

PASSWORD = "correct horse battery"


def _actions(runtime: Runtime) -> list[str]:
    with runtime.store.session() as s:
        return list(s.scalars(select(AuditRecord.action).order_by(AuditRecord.seq)))


def test_totp_enrolment_start_and_sign_out_are_audited(
    client: TestClient, runtime: Runtime
) -> None:
    Accounts(runtime.store, runtime.vault, runtime.clock, IdentitySettings()).create_user(
        "erin", roles=["auditor"], password=PASSWORD
    )
    signed_in = client.post("/auth/login", json={"username": "erin", "password": PASSWORD})
    assert signed_in.status_code == 200
    csrf = {"X-CSRF-Token": signed_in.json()["csrf_token"]}
    assert client.post("/api/v1/identity/me/mfa/totp", headers=csrf).status_code == 200
    assert "user.mfa_begin" in _actions(runtime)
    assert client.post("/auth/logout", headers=csrf).status_code == 204
    assert "session.revoke" in _actions(runtime)
    assert audit.verify(runtime.store).ok
