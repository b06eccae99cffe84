"""Sign-in throttling: no account enumeration, per-address budget, no race past the lockout,
session rotation when MFA is enrolled."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pyotp
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ringfence.core.clock import FixedClock
from ringfence.core.errors import AuthenticationError, RateLimitedError
from ringfence.identity.accounts import Accounts
from ringfence.identity.models import LoginThrottle
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime

PASSWORD = "correct horse battery"
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def accounts(app: FastAPI, runtime: Runtime, identity_settings: IdentitySettings) -> Accounts:
    app.state.password_hasher = CHEAP
    return Accounts(runtime.store, runtime.vault, runtime.clock, identity_settings, CHEAP)


def _client(app: FastAPI, ip: str) -> TestClient:
    return TestClient(app, base_url="https://rf.example", client=(ip, 40000))


@pytest.fixture
def web(app: FastAPI) -> Iterator[TestClient]:
    with _client(app, "198.51.100.7") as client:
        yield client


def _attempt(web: TestClient, username: str, password: str) -> tuple[int, str, str | None]:
    r = web.post("/auth/login", json={"username": username, "password": password})
    return r.status_code, r.json().get("detail", ""), r.headers.get("retry-after")


def test_unknown_username_is_throttled_exactly_like_a_real_one(
    accounts: Accounts, app: FastAPI, clock: FixedClock, runtime: Runtime
) -> None:
    app.state.identity_settings = IdentitySettings(
        delay_base_seconds=2, lockout_threshold=4, lockout_minutes=15
    )
    accounts.create_user("ann@example.com", roles=["auditor"], password=PASSWORD)
    # Each name is tried from its own address so the per-address budget plays no part.
    real, ghost = _client(app, "192.0.2.1"), _client(app, "192.0.2.2")
    seen: dict[str, list[tuple[int, str, str | None]]] = {"real": [], "ghost": []}
    steps = [0, 0, 0, 3, 3, 2, 14 * 60, 2 * 60]
    for i, wait in enumerate(steps):
        clock.advance(seconds=wait)
        seen["real"].append(_attempt(real, "ann@example.com", f"wrong-password-{i}"))
        seen["ghost"].append(_attempt(ghost, "nobody@example.com", f"wrong-password-{i}"))
    assert seen["real"] == seen["ghost"]
    statuses = [s for s, _, _ in seen["real"]]
    assert statuses == [401, 401, 429, 401, 429, 401, 429, 401]
    assert seen["real"][2][1].startswith("too many failed sign-ins: try again in")
    with runtime.store.session() as s:
        keys = [row.key for row in s.query(LoginThrottle)]
    # Only hashes are stored: neither the username nor the address appears.
    assert keys and all(len(k) == 64 and "@" not in k and "." not in k for k in keys)


def test_per_address_budget_stops_password_spraying(
    accounts: Accounts, app: FastAPI, clock: FixedClock
) -> None:
    app.state.identity_settings = IdentitySettings(
        delay_base_seconds=0,
        lockout_threshold=5,
        login_ip_threshold=6,
        login_ip_window_minutes=10,
    )
    accounts.create_user("ann@example.com", roles=["auditor"], password=PASSWORD)
    attacker, other = _client(app, "203.0.113.9"), _client(app, "203.0.113.10")
    # One guess per username, so no account lockout is reached; the address budget is.
    codes = [_attempt(attacker, f"user{i}@example.com", "Winter2026!!")[0] for i in range(6)]
    assert codes == [401] * 6
    status, detail, retry = _attempt(attacker, "ann@example.com", PASSWORD)
    assert status == 429 and "from this address" in detail and retry is not None
    assert int(retry) <= 10 * 60
    # Another address is not affected, and the locked address recovers after the window.
    assert _attempt(other, "ann@example.com", PASSWORD)[0] == 200
    clock.advance(minutes=11)
    assert _attempt(attacker, "ann@example.com", PASSWORD)[0] == 200
    # Successes do not refill the budget, failures in a new window start from zero.
    assert [_attempt(attacker, f"u{i}@example.com", "x" * 12)[0] for i in range(5)] == [401] * 5


def test_parallel_guesses_cannot_outrun_the_lockout(
    any_runtime: Runtime, identity_settings: IdentitySettings
) -> None:
    """8 threads guess at once: exactly ``lockout_threshold`` guesses are checked."""
    slow = PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1)  # ~10 ms a check
    settings = IdentitySettings(delay_base_seconds=0, lockout_threshold=3, lockout_minutes=15)
    accounts = Accounts(any_runtime.store, any_runtime.vault, any_runtime.clock, settings, slow)
    accounts.create_user("ann@example.com", roles=["auditor"], password=PASSWORD)

    def guess(i: int, name: str) -> str:
        try:
            accounts.login_password(name, f"guess-number-{i}")
        except AuthenticationError:
            return "401"
        except RateLimitedError:
            return "429"
        return "200"

    for name in ("ann@example.com", "ghost@example.com"):
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda i, n=name: guess(i, n), range(24)))  # type: ignore[misc]
        assert results.count("401") == 3, (name, results)
        assert results.count("429") == 21
    assert accounts.get_user("ann@example.com").failed_attempts == 3


def test_mfa_prompt_does_not_reset_the_failure_count(
    accounts: Accounts, app: FastAPI, clock: FixedClock, web: TestClient
) -> None:
    """Knowing the password must not buy unlimited one-time-code guesses."""
    app.state.identity_settings = IdentitySettings(delay_base_seconds=0, lockout_threshold=3)
    user = accounts.create_user("ann@example.com", roles=["auditor"], password=PASSWORD)
    uri = accounts.begin_totp(user.id).provisioning_uri.get_secret_value()
    totp = pyotp.TOTP(pyotp.parse_uri(uri).secret)
    accounts.confirm_totp(user.id, totp.at(clock.now()), actor="test")
    clock.advance(seconds=60)
    codes = []
    for _ in range(3):
        codes.append(
            web.post(
                "/auth/login",
                json={"username": "ann@example.com", "password": PASSWORD, "otp": "000000"},
            ).status_code
        )
        prompt = web.post("/auth/login", json={"username": "ann@example.com", "password": PASSWORD})
        codes.append(prompt.status_code)
    assert codes[:5] == [401, 401, 401, 401, 401] and codes[5] == 429
    assert accounts.get_user("ann@example.com").failed_attempts == 3


def test_enrolling_mfa_rotates_the_session(
    accounts: Accounts, web: TestClient, clock: FixedClock
) -> None:
    accounts.create_user("root@example.com", roles=["admin"], password=PASSWORD)
    login = web.post("/auth/login", json={"username": "root@example.com", "password": PASSWORD})
    assert login.status_code == 200 and login.json()["must_enroll_mfa"] is True
    web.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    old_session = web.cookies.get("__Host-rf_session")
    enrol = web.post("/api/v1/identity/me/mfa/totp").json()
    totp = pyotp.TOTP(pyotp.parse_uri(enrol["provisioning_uri"]).secret)
    confirm = web.post("/api/v1/identity/me/mfa/totp/confirm", json={"code": totp.at(clock.now())})
    assert confirm.status_code == 200, confirm.text
    new_session = web.cookies.get("__Host-rf_session")
    assert new_session and new_session != old_session
    assert confirm.json()["csrf_token"] != login.json()["csrf_token"]
    web.headers["X-CSRF-Token"] = confirm.json()["csrf_token"]
    assert web.get("/api/v1/identity/users").status_code == 200  # the new one passed MFA
    # The pre-enrolment session id (planted or leaked) is dead.
    web.cookies.clear()
    web.cookies.set("__Host-rf_session", old_session or "", domain="rf.example")
    assert web.get("/api/v1/identity/me").status_code == 401


def test_idle_sessions_end_and_used_ones_live_on(
    accounts: Accounts, web: TestClient, clock: FixedClock
) -> None:
    accounts.create_user("ann@example.com", roles=["auditor"], password=PASSWORD)
    assert (
        web.post(
            "/auth/login", json={"username": "ann@example.com", "password": PASSWORD}
        ).status_code
        == 200
    )
    for _ in range(4):  # used every 20 minutes: 80 minutes in, still signed in
        clock.advance(minutes=20)
        assert web.get("/api/v1/identity/me").status_code == 200
    clock.advance(minutes=31)  # then left alone past the idle timeout (30 min)
    gone = web.get("/api/v1/identity/me")
    assert gone.status_code == 401 and gone.json()["code"] == "session"


def test_parallel_guesses_from_one_address_cannot_outrun_its_budget(
    accounts: Accounts, app: FastAPI
) -> None:
    """The address's attempt is counted before the password check, like the account's."""
    slow = PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1)
    settings = IdentitySettings(delay_base_seconds=0, lockout_threshold=50, login_ip_threshold=5)
    rt: Runtime = app.state.runtime
    acc = Accounts(rt.store, rt.vault, rt.clock, settings, slow)

    def guess(i: int) -> str:
        try:
            acc.login_password(f"user{i}@example.com", "Winter2026!!", client_ip="203.0.113.7")
        except AuthenticationError:
            return "401"
        except RateLimitedError:
            return "429"
        return "200"

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(guess, range(30)))
    assert results.count("401") == 5 and results.count("429") == 25, results
    # The same /64 is the same budget for IPv6.
    v6 = Accounts(rt.store, rt.vault, rt.clock, settings, CHEAP)
    codes = []
    for i in range(6):
        try:
            v6.login_password("ghost@example.com", "x" * 12, client_ip=f"2001:db8:1:2::{i + 1:x}")
            codes.append("200")
        except AuthenticationError:
            codes.append("401")
        except RateLimitedError:
            codes.append("429")
    assert codes == ["401"] * 5 + ["429"]


def test_recovery_codes_are_keyed_by_the_master_key(
    accounts: Accounts, runtime: Runtime, clock: FixedClock
) -> None:
    """A stolen database alone cannot brute-force the 40-bit codes (their HMAC key is a vault
    secret, re-wrapped like any other on a master-key rotation); older plain digests work."""
    import hashlib

    from ringfence.identity.models import RecoveryCode

    user = accounts.create_user("ann@example.com", roles=["auditor"], password=PASSWORD)
    uri = accounts.begin_totp(user.id).provisioning_uri.get_secret_value()
    totp = pyotp.TOTP(pyotp.parse_uri(uri).secret)
    codes = accounts.confirm_totp(user.id, totp.at(clock.now()), actor="t")
    raw = codes[0].replace("-", "")
    plain = hashlib.sha256(b"ringfence-recovery:" + raw.encode()).hexdigest()
    with runtime.store.session() as s:
        stored = [c.hash for c in s.query(RecoveryCode)]
        assert all(h.startswith("k1:") for h in stored) and plain not in "".join(stored)
        # A code stored the old way (before this change) still signs in, once.
        legacy = s.query(RecoveryCode).filter(RecoveryCode.hash == stored[1]).one()
        legacy.hash = hashlib.sha256(
            b"ringfence-recovery:" + codes[1].replace("-", "").encode()
        ).hexdigest()
    clock.advance(seconds=60)
    assert accounts.login_password("ann@example.com", PASSWORD, recovery_code=codes[0]).username
    assert accounts.login_password("ann@example.com", PASSWORD, recovery_code=codes[1]).username
    with pytest.raises(AuthenticationError):
        accounts.login_password("ann@example.com", PASSWORD, recovery_code=codes[1])
