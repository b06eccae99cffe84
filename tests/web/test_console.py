"""The console over HTTP (no browser): sign-in, MFA gate, CSRF on every form, roles, escaping,
security headers. tests/web/test_browser.py drives the same pages in Chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from ringfence.core.clock import FixedClock
from ringfence.identity.accounts import Accounts
from ringfence.identity.settings import IdentitySettings
from ringfence.inventory.estate import apply_estate, parse_estate
from ringfence.runtime import Runtime
from ringfence.store.models import Integration, IntegrationStatus

PASSWORD = "correct horse battery"
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
ESTATE = """\
apiVersion: ringfence/v1
people:
  - {email: olive@example.com, name: Olive}
  - {email: other@example.com, name: Other}
vendors:
  - {name: Acme}
apps:
  - {name: crm, vendor: Acme, owner: olive@example.com, clearance: confidential}
  - {name: chat, vendor: Acme, owner: olive@example.com, clearance: internal}
integrations:
  - name: crm-sync
    source: crm
    destination: chat
    owner: olive@example.com
    description: "<script>alert('x')</script> nightly sync"
    scopes: ["crm:read", "chat:write"]
  - {name: chat-export, source: chat, destination: crm, owner: other@example.com}
"""


@pytest.fixture
def accounts(app: FastAPI, runtime: Runtime, identity_settings: IdentitySettings) -> Accounts:
    app.state.password_hasher = CHEAP
    apply_estate(runtime.store, parse_estate(ESTATE), actor="t", clock=runtime.clock)
    return Accounts(runtime.store, runtime.vault, runtime.clock, identity_settings, CHEAP)


@pytest.fixture
def web(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://rf.example", follow_redirects=False) as client:
        yield client


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert m, html[:500]
    return m.group(1)


def _sign_in(web: TestClient, username: str, **extra: str) -> None:
    r = web.post("/console/login", data={"username": username, "password": PASSWORD, **extra})
    assert r.status_code == 303, r.text


def _status(rt: Runtime, name: str) -> IntegrationStatus:
    with rt.store.session() as s:
        return s.scalars(select(Integration).where(Integration.name == name)).one().status


def test_pages_need_a_session_and_carry_security_headers(
    accounts: Accounts, web: TestClient
) -> None:
    for path in ("/console/", "/console/integrations", "/console/alerts", "/console/mfa"):
        r = web.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/console/login"
    page = web.get("/console/login")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert (
        "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
    )
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    assert "<script" not in page.text and "style=" not in page.text


def test_sign_in_errors_are_generic_and_mfa_is_asked_for(
    accounts: Accounts, web: TestClient, clock: FixedClock
) -> None:
    user = accounts.create_user("ann@example.com", roles=["auditor"], password=PASSWORD)
    bad = web.post("/console/login", data={"username": "ann@example.com", "password": "x" * 12})
    ghost = web.post(
        "/console/login", data={"username": "nobody@example.com", "password": "x" * 12}
    )
    assert bad.status_code == ghost.status_code == 401
    assert (
        "invalid username or password" in bad.text and "invalid username or password" in ghost.text
    )
    uri = accounts.begin_totp(user.id).provisioning_uri.get_secret_value()
    totp = pyotp.TOTP(pyotp.parse_uri(uri).secret)
    accounts.confirm_totp(user.id, totp.at(clock.now()), actor="t")
    clock.advance(seconds=60)
    ask = web.post("/console/login", data={"username": "ann@example.com", "password": PASSWORD})
    assert ask.status_code == 401 and 'name="otp"' in ask.text
    _sign_in(web, "ann@example.com", otp=totp.at(clock.now()))
    assert web.get("/console/").status_code == 200
    # An oversized form is refused before it is read.
    big = web.post(
        "/console/login",
        content=b"username=" + b"a" * 40_000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert big.status_code == 413
    # JSON is not a form: refused with a page, not a traceback.
    odd = web.post("/console/login", json={"username": "a", "password": "b"})
    assert odd.status_code == 400 and "expected a form post" in odd.text
    cross = web.post(
        "/console/login",
        data={"username": "ann@example.com", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403


def test_admin_is_held_at_mfa_enrolment_then_rotated_into_the_console(
    accounts: Accounts, web: TestClient, clock: FixedClock
) -> None:
    accounts.create_user("root@example.com", roles=["admin"], password=PASSWORD)
    r = web.post("/console/login", data={"username": "root@example.com", "password": PASSWORD})
    assert r.headers["location"] == "/console/mfa"
    assert web.get("/console/integrations").headers["location"] == "/console/mfa"
    page = web.get("/console/mfa")
    assert page.status_code == 200 and 'src="data:image/svg+xml' in page.text
    secret = re.search(r'<code id="secret">([A-Z2-7]+)</code>', page.text)
    assert secret
    # Looking at the page again shows the same seed: a reload must not replace the seed the
    # person just scanned (nor write to the vault and the audit log on a GET).
    again = web.get("/console/mfa")
    assert f'<code id="secret">{secret.group(1)}</code>' in again.text
    assert "Sign out" in page.text  # signing out needs no MFA
    old = web.cookies.get("__Host-rf_session")
    no_csrf = web.post("/console/mfa", data={"code": "123456"})
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.text
    code = pyotp.TOTP(secret.group(1)).at(clock.now())
    done = web.post("/console/mfa", data={"code": code, "csrf_token": _csrf(page.text)})
    assert done.status_code == 200 and done.text.count("<code>") == 10  # recovery codes
    assert web.cookies.get("__Host-rf_session") != old
    assert web.get("/console/integrations").status_code == 200


def test_quarantine_needs_csrf_and_the_right_role(
    accounts: Accounts, web: TestClient, runtime: Runtime, app: FastAPI
) -> None:
    owner = accounts.create_user(
        "olive@example.com", roles=["integration-owner"], password=PASSWORD
    )
    del owner
    _sign_in(web, "olive@example.com")
    listing = web.get("/console/integrations")
    assert listing.status_code == 200
    # An owner sees only their own integrations; descriptions are escaped, never markup.
    assert "crm-sync" in listing.text and "chat-export" not in listing.text
    assert "<script>alert" not in listing.text and "&lt;script&gt;" in listing.text
    with runtime.store.session() as s:
        ids = {i.name: i.id for i in s.scalars(select(Integration))}
    forged = web.post(f"/console/integrations/{ids['crm-sync']}/quarantine", data={"reason": "x"})
    assert forged.status_code == 403 and _status(runtime, "crm-sync") is IntegrationStatus.ACTIVE
    token = _csrf(listing.text)
    other = web.post(
        f"/console/integrations/{ids['chat-export']}/quarantine", data={"csrf_token": token}
    )
    assert other.status_code == 403 and _status(runtime, "chat-export") is IntegrationStatus.ACTIVE
    ok = web.post(f"/console/integrations/{ids['crm-sync']}/quarantine", data={"csrf_token": token})
    assert ok.status_code == 303 and _status(runtime, "crm-sync") is IntegrationStatus.QUARANTINED
    # Only an operator lifts a quarantine; owners cannot, and cannot read alerts.
    lift = web.post(f"/console/integrations/{ids['crm-sync']}/activate", data={"csrf_token": token})
    assert lift.status_code == 403
    assert web.get("/console/alerts").status_code == 403
    with TestClient(app, base_url="https://rf.example", follow_redirects=False) as analyst_web:
        accounts.create_user("sam@example.com", roles=["security-analyst"], password=PASSWORD)
        _sign_in(analyst_web, "sam@example.com")
        page = analyst_web.get("/console/integrations")
        assert "chat-export" in page.text and "Lift quarantine" in page.text
        lifted = analyst_web.post(
            f"/console/integrations/{ids['crm-sync']}/activate",
            data={"csrf_token": _csrf(page.text)},
        )
        assert lifted.status_code == 303
        assert _status(runtime, "crm-sync") is IntegrationStatus.ACTIVE
        for path in ("/console/", "/console/alerts", "/console/incidents", "/console/findings"):
            assert analyst_web.get(path).status_code == 200, path
        out = analyst_web.post("/console/logout", data={"csrf_token": _csrf(page.text)})
        assert out.status_code == 303
        assert analyst_web.get("/console/").headers["location"] == "/console/login"


def _crm_review(runtime: Runtime, clock: FixedClock) -> tuple[Any, dict[str, Any]]:
    """An open review of the crm app's integrations (crm-sync is Olive's, chat-export not);
    returns the campaign and the item Olive does not own."""
    from datetime import timedelta

    from ringfence.identity.reviews import AccessReviews

    reviews = AccessReviews(runtime.store, runtime.clock)
    campaign = reviews.create(
        "q4-crm",
        scope_kind="app",
        scope_ref="crm",
        due_at=clock.now() + timedelta(days=7),
        actor="user:analyst",
        used_scopes={"crm-sync": ["crm:read"], "chat-export": []},
    )
    theirs = next(i for i in reviews.items(campaign.id) if i["integration"] == "chat-export")
    return campaign, theirs


def test_an_owner_reviews_only_their_integrations_and_may_only_revoke_them(
    accounts: Accounts, web: TestClient, runtime: Runtime, clock: FixedClock
) -> None:
    campaign, theirs = _crm_review(runtime, clock)
    accounts.create_user("olive@example.com", roles=["integration-owner"], password=PASSWORD)
    _sign_in(web, "olive@example.com")
    page = web.get("/console/reviews")
    assert page.status_code == 200
    assert 'id="item-crm-sync"' in page.text and 'id="item-chat-export"' not in page.text
    # Segregation of duties: keeping (or reducing to) her own integration's access is another
    # reviewer's decision; the page offers her a revoke (request) only.
    assert 'value="keep"' not in page.text and 'name="keep:crm:read"' not in page.text
    assert "another reviewer" in page.text
    m = re.search(r"/console/reviews/([^/]+)/items/([^/]+)/decision", page.text)
    assert m and m.group(1) == campaign.id
    url, csrf = m.group(0), _csrf(page.text)
    form = {"decision": "reduce", "keep:crm:read": "on", "comment": "write never used"}
    assert web.post(url, data=form).status_code == 403  # no CSRF token
    forged = web.post(url, data={**form, "csrf_token": csrf})  # a hand-made reduce
    assert forged.status_code == 403 and "another reviewer" in forged.text
    assert "Traceback" not in forged.text
    with runtime.store.session() as s:
        sync = s.scalars(select(Integration).where(Integration.name == "crm-sync")).one()
        assert sorted(sync.scopes) == ["chat:write", "crm:read"]
    # Another owner's item cannot be decided from this account, whatever the form says.
    other = f"/console/reviews/{campaign.id}/items/{theirs['id']}/decision"
    refused = web.post(
        other, data={"decision": "revoke", "comment": "not mine", "csrf_token": csrf}
    )
    assert refused.status_code == 403
    assert _status(runtime, "chat-export") is IntegrationStatus.ACTIVE

    # An analyst (who owns neither) decides it: the used scope is ticked to keep.
    accounts.create_user("ana@example.com", roles=["security-analyst"], password=PASSWORD)
    _sign_in(web, "ana@example.com")
    page = web.get("/console/reviews")
    assert 'name="keep:crm:read" checked' in page.text
    assert 'name="keep:chat:write">' in page.text
    csrf = _csrf(page.text)
    empty = web.post(url, data={"decision": "reduce", "comment": "none", "csrf_token": csrf})
    assert empty.status_code == 400 and "kept_scopes" in empty.text  # nothing ticked
    done = web.post(url, data={**form, "csrf_token": csrf})
    # back to the list as it was (no show/page fields posted: all items, first page)
    assert done.status_code == 303
    assert done.headers["location"] == "/console/reviews?show=all&page=1"
    with runtime.store.session() as s:
        sync = s.scalars(select(Integration).where(Integration.name == "crm-sync")).one()
        assert sync.scopes == ["crm:read"]
    assert "reduce: crm:read by user:ana@example.com" in web.get("/console/reviews").text


def test_an_owner_may_revoke_her_own_integration(
    accounts: Accounts, web: TestClient, runtime: Runtime, clock: FixedClock
) -> None:
    """Giving access up is hers to ask for: quarantined now, the revoke waits for a second
    person (session 14, revoked is final: tests/identity/test_session14_review_revoke_four_eyes)."""
    _crm_review(runtime, clock)
    accounts.create_user("olive@example.com", roles=["integration-owner"], password=PASSWORD)
    _sign_in(web, "olive@example.com")
    page = web.get("/console/reviews")
    m = re.search(r"/console/reviews/([^/]+)/items/([^/]+)/decision", page.text)
    assert m
    done = web.post(
        m.group(0),
        data={"decision": "revoke", "comment": "retired", "csrf_token": _csrf(page.text)},
    )
    assert done.status_code == 303
    assert _status(runtime, "crm-sync") is IntegrationStatus.QUARANTINED
    # the page says what happened: the revoke is a request a second person approves
    after = web.get("/console/reviews").text
    row = after[after.index('id="item-crm-sync"') :]
    row = row[: row.index("</tr>")]
    assert "revoke by user:olive@example.com" in row
    assert "revoke request:" in row and "awaiting approval" in row


def test_an_owner_who_is_also_an_auditor_sees_all_items_but_decides_only_their_own(
    accounts: Accounts, web: TestClient, runtime: Runtime, clock: FixedClock
) -> None:
    """Seeing every item (reviews:read) is not deciding them (review finding H2)."""
    campaign, theirs = _crm_review(runtime, clock)
    accounts.create_user(
        "olive@example.com", roles=["integration-owner", "auditor"], password=PASSWORD
    )
    _sign_in(web, "olive@example.com")
    page = web.get("/console/reviews")
    assert 'id="item-chat-export"' in page.text  # an auditor sees it ...
    assert f"/items/{theirs['id']}/decision" not in page.text  # ... and is offered no form
    other = f"/console/reviews/{campaign.id}/items/{theirs['id']}/decision"
    form = {"decision": "revoke", "comment": "not mine", "csrf_token": _csrf(page.text)}
    assert web.post(other, data=form).status_code == 403
    assert _status(runtime, "chat-export") is IntegrationStatus.ACTIVE


def test_reviews_page_in_pages_with_progress_and_an_undecided_filter(
    accounts: Accounts,
    web: TestClient,
    runtime: Runtime,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ringfence.web as console

    monkeypatch.setattr(console, "REVIEW_PAGE", 1)
    campaign, theirs = _crm_review(runtime, clock)  # two items: chat-export, crm-sync
    accounts.create_user("ana@example.com", roles=["security-analyst"], password=PASSWORD)
    _sign_in(web, "ana@example.com")
    first = web.get("/console/reviews")
    assert "0 of 2 decided" in first.text
    assert 'id="item-chat-export"' in first.text and 'id="item-crm-sync"' not in first.text
    assert 'href="?show=all&amp;page=2">next' in first.text
    second = web.get("/console/reviews?show=all&page=2")
    assert 'id="item-crm-sync"' in second.text and 'id="item-chat-export"' not in second.text
    assert ">previous<" in second.text and ">next<" not in second.text
    # decide chat-export from the pending view: the redirect keeps the view
    url = f"/console/reviews/{campaign.id}/items/{theirs['id']}/decision"
    form = {"decision": "keep", "csrf_token": _csrf(first.text), "show": "pending", "page": "1"}
    done = web.post(url, data=form)
    assert done.status_code == 303
    assert done.headers["location"] == "/console/reviews?show=pending&page=1"
    pending = web.get(done.headers["location"])
    assert "1 of 2 decided" in pending.text
    assert 'id="item-crm-sync"' in pending.text and 'id="item-chat-export"' not in pending.text
    # bad filter or page values are a clear 400, never a traceback or an open redirect
    for query in ("?show=everything", "?page=0", "?page=-1", "?page=abc", "?page=99999999"):
        bad = web.get("/console/reviews" + query)
        assert bad.status_code == 400, query
    crafted = {**form, "page": "https://evil.example/"}
    assert web.post(url, data=crafted).status_code in (400, 409)


def test_vendor_risk_page_needs_read_and_escapes(
    accounts: Accounts, web: TestClient, runtime: Runtime
) -> None:
    from ringfence.store.models import Vendor

    with runtime.store.session() as s:
        s.add(Vendor(name="<b>Evil</b> Corp"))
    accounts.create_user("olive@example.com", roles=["integration-owner"], password=PASSWORD)
    accounts.create_user("ana@example.com", roles=["security-analyst"], password=PASSWORD)
    _sign_in(web, "olive@example.com")
    assert web.get("/console/vendors").status_code == 403  # owners see their integrations only
    web.cookies.clear()
    _sign_in(web, "ana@example.com")
    page = web.get("/console/vendors")
    assert page.status_code == 200
    assert "&lt;b&gt;Evil&lt;/b&gt; Corp" in page.text and "<b>Evil</b>" not in page.text
    assert "Acme" in page.text


def test_a_console_page_waiting_on_a_locked_store_does_not_stall_other_requests(
    accounts: Accounts, app: FastAPI, runtime: Runtime, clock: FixedClock
) -> None:
    """Review finding: console handlers did their database work on the event loop, so one
    page waiting for a SQLite write lock (up to the 5 s busy timeout) stalled every request of
    the process. They run in the thread pool now."""
    import sqlite3
    import threading
    import time

    from sqlalchemy.engine import make_url

    database = make_url(runtime.store.url).database
    if runtime.store.url.startswith("postgresql") or not database:
        pytest.skip("the lock is SQLite's")
    accounts.create_user("sam@example.com", roles=["security-analyst"], password=PASSWORD)
    with TestClient(app, base_url="https://rf.example", follow_redirects=False) as web:
        _sign_in(web, "sam@example.com")
        clock.advance(minutes=2)  # the next request records the session's last use: a write
        holder = sqlite3.connect(database, timeout=0.1)
        holder.execute("BEGIN IMMEDIATE")  # someone else holds the write lock
        page: list[int] = []
        waiting = threading.Thread(target=lambda: page.append(web.get("/console/").status_code))
        try:
            waiting.start()
            time.sleep(0.5)  # the page is now waiting for the lock
            started = time.monotonic()
            assert web.get("/api/v1/health").status_code == 200
            assert time.monotonic() - started < 1.5  # not behind the waiting page
            assert not page  # still waiting
        finally:
            holder.rollback()
            holder.close()
            waiting.join(timeout=10)
        assert page == [200]
