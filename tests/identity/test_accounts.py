"""Console users: argon2id, lockout, TOTP + recovery codes, sessions/CSRF, tokens, roles."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ringfence.core.clock import FixedClock
from ringfence.identity.accounts import Accounts
from ringfence.identity.models import ConsoleUser
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime
from ringfence.store.models import Integration, IntegrationStatus
from tests.identity.concurrency import run_together

PASSWORD = "correct horse battery"
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def accounts(app: FastAPI, runtime: Runtime, identity_settings: IdentitySettings) -> Accounts:
    app.state.password_hasher = CHEAP
    return Accounts(runtime.store, runtime.vault, runtime.clock, identity_settings, CHEAP)


@pytest.fixture
def web(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://rf.example") as client:
        yield client


def _login(web: TestClient, username: str, **extra: str) -> dict[str, Any]:
    resp = web.post("/auth/login", json={"username": username, "password": PASSWORD, **extra})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    web.headers["X-CSRF-Token"] = body["csrf_token"]
    return body


def _enrolled(accounts: Accounts, clock: FixedClock, username: str) -> pyotp.TOTP:
    user = accounts.get_user(username)
    uri = accounts.begin_totp(user.id).provisioning_uri.get_secret_value()
    totp = pyotp.TOTP(pyotp.parse_uri(uri).secret)
    accounts.confirm_totp(user.id, totp.at(clock.now()), actor="test")
    clock.advance(seconds=30)
    return totp


def test_passwords_are_argon2id_and_short_ones_refused(
    accounts: Accounts, runtime: Runtime
) -> None:
    from ringfence.core.errors import ValidationError

    user = accounts.create_user("ann@example.com", roles=["auditor"], password=PASSWORD)
    with runtime.store.session() as s:
        row = s.get(ConsoleUser, user.id)
        assert row is not None and row.password_hash is not None
        assert row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash
    with pytest.raises(ValidationError):
        accounts.create_user("bob@example.com", roles=["auditor"], password="short")
    with pytest.raises(ValidationError):
        accounts.create_user("cat@example.com", roles=["root"], password=PASSWORD)


def test_login_sets_secure_cookies_and_unknown_user_looks_like_wrong_password(
    accounts: Accounts, web: TestClient
) -> None:
    accounts.create_user("ann@example.com", roles=["auditor"], password=PASSWORD)
    resp = web.post("/auth/login", json={"username": "ann@example.com", "password": PASSWORD})
    assert resp.status_code == 200
    cookies = resp.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("__Host-rf_session="))
    assert "HttpOnly" in session and "Secure" in session and "SameSite=strict" in session
    csrf = next(c for c in cookies if c.startswith("__Host-rf_csrf="))
    assert "HttpOnly" not in csrf and "SameSite=strict" in csrf
    bad = web.post("/auth/login", json={"username": "ann@example.com", "password": "x" * 12})
    ghost = web.post("/auth/login", json={"username": "ghost@example.com", "password": "x" * 12})
    assert bad.status_code == ghost.status_code == 401
    assert bad.json()["detail"] == ghost.json()["detail"]
    form = web.post("/auth/login", data={"username": "ann@example.com", "password": PASSWORD})
    assert form.status_code == 200
    assert web.post("/auth/login", json=["x"]).status_code == 400
    assert (
        web.post("/auth/login", json={"username": "a", "password": "b", "x": 1}).status_code == 400
    )
    assert (
        web.post(
            "/auth/login", content=b"{", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )


def test_progressive_delay_then_lockout(
    accounts: Accounts, web: TestClient, clock: FixedClock, app: FastAPI
) -> None:
    app.state.identity_settings = IdentitySettings(
        delay_base_seconds=2, lockout_threshold=4, lockout_minutes=15
    )
    accounts.create_user("ann@example.com", roles=["auditor"], password=PASSWORD)

    def attempt(password: str) -> int:
        r = web.post("/auth/login", json={"username": "ann@example.com", "password": password})
        return r.status_code

    assert attempt("wrong-password-1") == 401  # 1st failure: no delay
    assert attempt("wrong-password-2") == 401  # 2nd: wait 2 s
    assert attempt(PASSWORD) == 429  # too early, even with the right password
    clock.advance(seconds=3)
    assert attempt("wrong-password-3") == 401  # 3rd: wait 4 s
    clock.advance(seconds=3)
    assert attempt("wrong-password-4") == 429
    clock.advance(seconds=2)
    assert attempt("wrong-password-4") == 401  # 4th: locked for 15 min
    clock.advance(minutes=14)
    assert attempt(PASSWORD) == 429
    clock.advance(minutes=2)
    assert attempt(PASSWORD) == 200  # lock expired; success resets the counter
    assert accounts.get_user("ann@example.com").failed_attempts == 0


def test_totp_enrolment_qr_login_replay_and_recovery_codes(
    accounts: Accounts, web: TestClient, clock: FixedClock
) -> None:
    accounts.create_user("ann@example.com", roles=["security-analyst"], password=PASSWORD)
    _login(web, "ann@example.com")
    enrol = web.post("/api/v1/identity/me/mfa/totp")
    assert enrol.status_code == 200
    assert enrol.json()["qr_svg_data_uri"].startswith("data:image/svg+xml")
    totp = pyotp.TOTP(pyotp.parse_uri(enrol.json()["provisioning_uri"]).secret)
    wrong = web.post("/api/v1/identity/me/mfa/totp/confirm", json={"code": "000000"})
    assert wrong.status_code == 400
    confirm = web.post("/api/v1/identity/me/mfa/totp/confirm", json={"code": totp.at(clock.now())})
    assert confirm.status_code == 200, confirm.text
    codes = confirm.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    clock.advance(seconds=30)
    web.cookies.clear()
    need = web.post("/auth/login", json={"username": "ann@example.com", "password": PASSWORD})
    assert need.status_code == 401 and need.json()["code"] == "mfa_required"
    code = totp.at(clock.now())
    assert _login(web, "ann@example.com", otp=code)["mfa_passed"] is True
    replay = web.post(
        "/auth/login", json={"username": "ann@example.com", "password": PASSWORD, "otp": code}
    )
    assert replay.status_code == 401  # the same code twice is refused
    assert _login(web, "ann@example.com", recovery_code=codes[0])["mfa_passed"] is True
    again = web.post(
        "/auth/login",
        json={"username": "ann@example.com", "password": PASSWORD, "recovery_code": codes[0]},
    )
    assert again.status_code == 401  # recovery codes are single use


def test_admin_without_mfa_can_only_enrol(
    accounts: Accounts, web: TestClient, clock: FixedClock
) -> None:
    accounts.create_user("root@example.com", roles=["admin"], password=PASSWORD)
    body = _login(web, "root@example.com")
    assert body["must_enroll_mfa"] is True
    assert web.get("/api/v1/integrations").status_code == 403
    assert web.get("/api/v1/identity/users").status_code == 403
    assert (
        web.post("/api/v1/identity/me/tokens", json={"name": "ci", "scopes": ["read"]}).status_code
        == 403
    )
    enrol = web.post("/api/v1/identity/me/mfa/totp").json()
    totp = pyotp.TOTP(pyotp.parse_uri(enrol["provisioning_uri"]).secret)
    web.post("/api/v1/identity/me/mfa/totp/confirm", json={"code": totp.at(clock.now())})
    assert web.get("/api/v1/integrations").status_code == 200
    assert web.get("/api/v1/identity/users").status_code == 200


def test_cookie_requests_need_the_csrf_token(
    accounts: Accounts, web: TestClient, clock: FixedClock
) -> None:
    accounts.create_user("ann@example.com", roles=["security-analyst"], password=PASSWORD)
    csrf = _login(web, "ann@example.com")["csrf_token"]
    del web.headers["X-CSRF-Token"]
    denied = web.post("/api/v1/identity/me/tokens", json={"name": "t", "scopes": ["read"]})
    assert denied.status_code == 403 and denied.json()["code"] == "csrf"
    forged = web.post(
        "/api/v1/identity/me/tokens",
        json={"name": "t", "scopes": ["read"]},
        headers={"X-CSRF-Token": "f" * 64},
    )
    assert forged.status_code == 403
    ok = web.post(
        "/api/v1/identity/me/tokens",
        json={"name": "t", "scopes": ["read"]},
        headers={"X-CSRF-Token": csrf},
    )
    # past the CSRF check; a password-only session then needs MFA to mint (review 9, #9)
    assert ok.status_code == 403 and ok.json()["code"] == "mfa_required"
    assert web.get("/api/v1/identity/me").status_code == 200  # safe methods need none
    assert web.post("/auth/logout", data={"csrf_token": "f" * 64}).status_code == 403
    assert web.post("/auth/logout", headers={"X-CSRF-Token": "nope"}).status_code == 403
    assert web.post("/auth/logout", data={"csrf_token": csrf}).status_code == 204
    assert web.get("/api/v1/identity/me").status_code == 401
    assert web.post("/auth/logout", data={"csrf_token": csrf}).status_code == 401


def test_personal_tokens_are_scoped_expiring_and_revocable(
    accounts: Accounts, app: FastAPI, clock: FixedClock
) -> None:
    user = accounts.create_user("ann@example.com", roles=["security-analyst"], password=PASSWORD)
    from ringfence.core.errors import ValidationError

    with pytest.raises(ValidationError):
        accounts.issue_token(user.id, "t", ["identity:admin"], 30, actor="t")
    with pytest.raises(ValidationError):
        accounts.issue_token(user.id, "t", ["read"], 5000, actor="t")
    issued = accounts.issue_token(user.id, "ci", ["read"], 7, actor="t")
    token = issued.token.get_secret_value()
    assert token.startswith("rf_pat_")
    with TestClient(app, base_url="https://rf.example") as c:
        h = {"Authorization": f"Bearer {token}"}
        assert c.get("/api/v1/integrations", headers=h).status_code == 200
        body = {"name": "x", "destination_app": "y"}
        assert c.post("/api/v1/integrations", json=body, headers=h).status_code == 403
        me = c.get("/api/v1/identity/me", headers=h).json()
        assert me["scopes"] == ["read"] and me["kind"] == "user"
        # demoting the user shrinks what the token can do
        accounts.set_roles(user.id, ["integration-owner"], actor="t")
        assert c.get("/api/v1/integrations", headers=h).status_code == 403
        accounts.set_roles(user.id, ["security-analyst"], actor="t")
        clock.advance(days=8)
        assert c.get("/api/v1/integrations", headers=h).status_code == 401
        second = accounts.issue_token(user.id, "ci2", ["read"], 7, actor="t")
        h2 = {"Authorization": f"Bearer {second.token.get_secret_value()}"}
        assert c.get("/api/v1/integrations", headers=h2).status_code == 200
        accounts.revoke_token(user.id, second.id, actor="t")
        assert c.get("/api/v1/integrations", headers=h2).status_code == 401
        assert (
            c.get(
                "/api/v1/integrations", headers={"Authorization": h2["Authorization"][:-2]}
            ).status_code
            == 401
        )


# -- roles: one forbidden action per role, through the API's Principal dependency -----------
def _token_for(
    accounts: Accounts, clock: FixedClock, username: str, roles: list[str]
) -> dict[str, str]:
    from ringfence.identity.roles import scopes_of

    user = accounts.create_user(username, roles=roles, password=PASSWORD)
    if "admin" in roles:
        _enrolled(accounts, clock, username)
    tok = accounts.issue_token(user.id, "t", sorted(scopes_of(roles)), 30, actor="t")
    return {"Authorization": f"Bearer {tok.token.get_secret_value()}"}


def test_auditor_is_read_only(
    accounts: Accounts, app: FastAPI, clock: FixedClock, estate: dict[str, str]
) -> None:
    h = _token_for(accounts, clock, "aud@example.com", ["auditor"])
    with TestClient(app, base_url="https://rf.example") as c:
        assert c.get("/api/v1/integrations", headers=h).status_code == 200
        assert c.get("/api/v1/identity/findings", headers=h).status_code == 200
        assert (
            c.post(f"/api/v1/integrations/{estate['sync']}/quarantine", headers=h).status_code
            == 403
        )
        assert c.delete(f"/api/v1/people/{estate['bob']}", headers=h).status_code == 403
        assert (
            c.post(f"/api/v1/identity/people/{estate['alice']}/deactivate", headers=h).status_code
            == 403
        )


def test_security_analyst_cannot_manage_users_or_scim_tokens(
    accounts: Accounts, app: FastAPI, clock: FixedClock, estate: dict[str, str]
) -> None:
    h = _token_for(accounts, clock, "sa@example.com", ["security-analyst"])
    with TestClient(app, base_url="https://rf.example") as c:
        assert (
            c.post(f"/api/v1/integrations/{estate['sync']}/quarantine", headers=h).status_code
            == 200
        )
        new_user = {"username": "x@example.com", "roles": ["admin"], "password": PASSWORD}
        assert c.post("/api/v1/identity/users", json=new_user, headers=h).status_code == 403
        assert (
            c.post("/api/v1/identity/scim-tokens", json={"name": "x"}, headers=h).status_code == 403
        )


def test_integration_owner_sees_only_their_own_integrations(
    accounts: Accounts, app: FastAPI, clock: FixedClock, estate: dict[str, str], runtime: Runtime
) -> None:
    h = _token_for(accounts, clock, "alice@example.com", ["integration-owner"])
    with runtime.store.session() as s:
        other = s.get(Integration, estate["job"])
        assert other is not None
        other.owner_id = estate["bob"]
    with TestClient(app, base_url="https://rf.example") as c:
        assert c.get(f"/api/v1/integrations/{estate['sync']}", headers=h).status_code == 200
        assert c.get("/api/v1/integrations/crm-to-chat", headers=h).status_code == 200
        assert c.get(f"/api/v1/integrations/{estate['job']}", headers=h).status_code == 403
        assert c.get("/api/v1/integrations", headers=h).status_code == 403
        assert c.get("/api/v1/people", headers=h).status_code == 403
        assert (
            c.patch(
                f"/api/v1/integrations/{estate['sync']}", json={"description": "x"}, headers=h
            ).status_code
            == 403
        )
        assert (
            c.post(f"/api/v1/integrations/{estate['job']}/quarantine", headers=h).status_code == 403
        )
        assert (
            c.post(f"/api/v1/integrations/{estate['sync']}/quarantine", headers=h).status_code
            == 200
        )


def test_admin_manages_users_and_deactivation_revokes_personal_tokens(
    accounts: Accounts, app: FastAPI, clock: FixedClock, estate: dict[str, str], runtime: Runtime
) -> None:
    admin = _token_for(accounts, clock, "root@example.com", ["admin"])
    alice = _token_for(accounts, clock, "alice@example.com", ["integration-owner"])
    with TestClient(app, base_url="https://rf.example") as c:
        assert c.get(f"/api/v1/integrations/{estate['sync']}", headers=alice).status_code == 200
        made = c.post(
            "/api/v1/identity/users",
            json={"username": "new@example.com", "roles": ["auditor"], "password": PASSWORD},
            headers=admin,
        )
        assert made.status_code == 201 and made.json()["roles"] == ["auditor"]
        bad = c.post(
            "/api/v1/identity/users",
            json={"username": "n2@example.com", "roles": ["god"]},
            headers=admin,
        )
        assert bad.status_code == 400
        resp = c.post(f"/api/v1/identity/people/{estate['alice']}/deactivate", headers=admin)
        assert resp.status_code == 200, resp.text
        report = resp.json()
        assert report["tokens_revoked"] == 1 and len(report["findings"]) == 2
        assert c.get(f"/api/v1/integrations/{estate['sync']}", headers=alice).status_code == 401
        with runtime.store.session() as s:
            integ = s.get(Integration, estate["sync"])
            assert integ is not None and integ.status == IntegrationStatus.QUARANTINED
        moved = c.put(
            "/api/v1/identity/integrations/crm-to-chat/owner",
            json={"owner": "bob@example.com"},
            headers=admin,
        )
        assert moved.status_code == 200 and moved.json()["status"] == "active"
        assert c.post("/api/v1/identity/people/nobody/deactivate", headers=admin).status_code == 404


def test_expired_session_is_refused(accounts: Accounts, web: TestClient, clock: FixedClock) -> None:
    accounts.create_user("ann@example.com", roles=["auditor"], password=PASSWORD)
    _login(web, "ann@example.com")
    assert web.get("/api/v1/identity/me").status_code == 200
    clock.advance(timedelta(minutes=481).total_seconds())
    assert web.get("/api/v1/identity/me").status_code == 401


def test_a_reset_forgets_the_seed_so_a_stolen_device_cannot_re_enrol(
    accounts: Accounts, runtime: Runtime, clock: FixedClock
) -> None:
    """After an MFA reset (lost or stolen phone) the old seed is gone: the enrolment page shows
    a new one, and codes of the old device do not complete the new enrolment."""
    from ringfence.core.errors import ValidationError

    user = accounts.create_user("root@example.com", roles=["admin"], password=PASSWORD)
    stolen = _enrolled(accounts, clock, "root@example.com")
    accounts.reset_mfa(user.id, actor="user:helpdesk")
    assert not runtime.vault.exists(f"identity/totp/{user.id}")
    shown = accounts.begin_totp(user.id, reuse_pending=True).provisioning_uri.get_secret_value()
    fresh = pyotp.TOTP(pyotp.parse_uri(shown).secret)
    assert fresh.secret != stolen.secret
    with pytest.raises(ValidationError):
        accounts.confirm_totp(user.id, stolen.at(clock.now()), actor="t")
    accounts.confirm_totp(user.id, fresh.at(clock.now()), actor="t")


def test_a_pending_seed_is_shown_again_only_for_a_while(
    accounts: Accounts, clock: FixedClock
) -> None:
    user = accounts.create_user("new@example.com", roles=["admin"], password=PASSWORD)

    def shown() -> str:
        uri = accounts.begin_totp(user.id, reuse_pending=True).provisioning_uri
        return pyotp.parse_uri(uri.get_secret_value()).secret

    first = shown()
    clock.advance(minutes=10)
    assert shown() == first  # a reload while scanning keeps the seed
    clock.advance(minutes=16)
    assert shown() != first  # an old pending seed is not handed out again


def _parallel(n: int, attempt: Any) -> list[str]:
    """Run ``attempt(i)`` in ``n`` threads released at once; 'ok' or the error's class."""
    from ringfence.core.errors import RingfenceError

    def body(i: int, go: Any) -> str:
        go()
        try:
            attempt(i)
        except RingfenceError as exc:
            return type(exc).__name__
        return "ok"

    return run_together(n, body)


def test_one_totp_code_or_recovery_code_signs_in_once_even_in_parallel(
    runtime: Runtime, identity_settings: IdentitySettings, clock: FixedClock
) -> None:
    """Review finding: on SQLite two parallel sign-ins both read the old 'last used' step (or
    the unused recovery code) and both passed. The code is now claimed by a conditional
    update; the loser is refused."""
    for round_ in range(3):
        accounts = Accounts(runtime.store, runtime.vault, clock, identity_settings, CHEAP)
        name = f"race{round_}@example.com"
        accounts.create_user(name, roles=["admin"], password=PASSWORD)
        totp = _enrolled(accounts, clock, name)
        code = totp.at(clock.now())

        def with_totp(i: int, name: str = name, code: str = code, net: int = round_) -> None:
            Accounts(runtime.store, runtime.vault, clock, identity_settings, CHEAP).login_password(
                name, PASSWORD, otp=code, client_ip=f"10.0.{net}.{i}"
            )

        results = _parallel(3, with_totp)
        assert results.count("ok") == 1, results
        clock.advance(seconds=30)
    # recovery codes: a fresh user, its codes from enrolment
    accounts = Accounts(runtime.store, runtime.vault, clock, identity_settings, CHEAP)
    accounts.create_user("rc@example.com", roles=["admin"], password=PASSWORD)
    user = accounts.get_user("rc@example.com")
    uri = accounts.begin_totp(user.id).provisioning_uri.get_secret_value()
    seed = pyotp.TOTP(pyotp.parse_uri(uri).secret)
    recovery = accounts.confirm_totp(user.id, seed.at(clock.now()), actor="test")

    def with_recovery(i: int) -> None:
        Accounts(runtime.store, runtime.vault, clock, identity_settings, CHEAP).login_password(
            "rc@example.com", PASSWORD, recovery_code=recovery[0], client_ip=f"10.9.0.{i}"
        )

    results = _parallel(3, with_recovery)
    assert results.count("ok") == 1, results


def test_sessions_opened_before_enrolment_end_with_it_and_cannot_mint_tokens(
    accounts: Accounts, app: FastAPI, clock: FixedClock
) -> None:
    """Review finding: a password session opened before enrolment kept {mfa:enroll, self}
    after it and could mint a full-admin token (scopes were checked against the user's roles,
    not the session's)."""
    accounts.create_user("root@example.com", roles=["admin"], password=PASSWORD)
    with (
        TestClient(app, base_url="https://rf.example") as other,
        TestClient(app, base_url="https://rf.example") as web,
    ):
        _login(other, "root@example.com")  # e.g. whoever else knew the password
        _login(web, "root@example.com")
        minted = other.post(
            "/api/v1/identity/me/tokens", json={"name": "x", "scopes": ["identity:admin"]}
        )
        assert minted.status_code == 403 and minted.json()["code"] == "mfa_required"
        enrol = web.post("/api/v1/identity/me/mfa/totp").json()
        totp = pyotp.TOTP(pyotp.parse_uri(enrol["provisioning_uri"]).secret)
        confirm = web.post(
            "/api/v1/identity/me/mfa/totp/confirm", json={"code": totp.at(clock.now())}
        )
        assert confirm.status_code == 200
        web.headers["X-CSRF-Token"] = confirm.json()["csrf_token"]
        # the enrolling session became an MFA-passed one; the other one is over
        assert web.get("/api/v1/identity/users").status_code == 200
        assert other.get("/api/v1/identity/me").status_code == 401
        late = other.post("/api/v1/identity/me/tokens", json={"name": "x", "scopes": ["read"]})
        assert late.status_code == 401
        # a token never exceeds what the issuing session holds
        assert (
            web.post(
                "/api/v1/identity/me/tokens", json={"name": "ci", "scopes": ["read"]}
            ).status_code
            == 201
        )
