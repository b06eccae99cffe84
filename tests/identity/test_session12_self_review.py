"""Session 12: segregation of duties in access reviews — nobody certifies their own access.

Repro before the fix: an item's reviewer is the integration's owner, and a security analyst
or administrator may decide any item — so an owner (or an analyst who owns an integration)
answered "keep" on their own integration's scopes and the evidence showed it certified. Now a
keep or reduce of an integration the decider owns is refused with 403 ``self_review`` (a
revoke, giving access up, is theirs to make) and another reviewer decides it; a campaign
whose items only their own owner could decide is reported (create, show, reminders, CLI)."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from ringfence.cli import main
from ringfence.core.clock import FixedClock
from ringfence.identity.accounts import Accounts
from ringfence.identity.reviews import NO_INDEPENDENT, AccessReviews
from ringfence.identity.roles import scopes_of
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime
from ringfence.store.models import AuditRecord, Integration, IntegrationStatus

CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def _bearer(
    runtime: Runtime,
    settings: IdentitySettings,
    user: str,
    roles: list[str],
    person_email: str | None = None,
) -> dict[str, str]:
    accounts = Accounts(runtime.store, runtime.vault, runtime.clock, settings, CHEAP)
    made = accounts.create_user(
        user, roles=roles, password="correct horse battery", person_email=person_email
    )
    tok = accounts.issue_token(made.id, "t", sorted(scopes_of(roles)), 30, actor="t")
    return {"Authorization": f"Bearer {tok.token.get_secret_value()}"}


def _campaign(c: TestClient, headers: dict[str, str], clock: FixedClock, **over: str) -> Any:
    body = {
        "name": "q4",
        "scope_kind": "app",
        "scope": "crm",
        "due_at": (clock.now() + timedelta(days=2)).isoformat(),
        **over,
    }
    created = c.post("/api/v1/identity/reviews", json=body, headers=headers)
    assert created.status_code == 201, created.text
    return created.json()


def _item(c: TestClient, cid: str, headers: dict[str, str], name: str) -> str:
    items = c.get(f"/api/v1/identity/reviews/{cid}", headers=headers).json()["items"]
    return str(next(i["id"] for i in items if i["integration"] == name))


def _scopes(runtime: Runtime, integ_id: str) -> list[str]:
    with runtime.store.session() as s:
        integ = s.get(Integration, integ_id)
        assert integ is not None
        return sorted(integ.scopes)


def test_nobody_keeps_their_own_integrations_access(
    app: FastAPI,
    runtime: Runtime,
    clock: FixedClock,
    identity_settings: IdentitySettings,
    estate: dict[str, str],
) -> None:
    # alice owns crm-to-chat and crm-report; she is a security analyst too
    alice = _bearer(runtime, identity_settings, "alice@example.com", ["security-analyst"])
    owner = _bearer(runtime, identity_settings, "bob@example.com", ["integration-owner"])
    other = _bearer(runtime, identity_settings, "sa@example.com", ["security-analyst"])
    with TestClient(app, base_url="https://rf.example") as c:
        cid = _campaign(c, other, clock)["id"]
        sync = _item(c, cid, other, "crm-to-chat")
        url = f"/api/v1/identity/reviews/{cid}/items/{sync}/decision"
        for body in (
            {"decision": "keep"},
            {"decision": "reduce", "kept_scopes": ["chat:write"], "comment": "least privilege"},
        ):
            refused = c.post(url, json=body, headers=alice)
            assert refused.status_code == 403, refused.text
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert refused.json()["code"] == "self_review"
            assert "another reviewer" in refused.json()["detail"]
        assert _scopes(runtime, estate["sync"]) == ["chat:read", "chat:write", "users:read"]
        # an owner after a reassignment: bob now owns crm-report and may not keep it either
        with runtime.store.session() as s:
            job = s.get(Integration, estate["job"])
            assert job is not None
            job.owner_id = estate["bob"]
        job_url = f"/api/v1/identity/reviews/{cid}/items/{_item(c, cid, other, 'crm-report')}"
        own = c.post(f"{job_url}/decision", json={"decision": "keep"}, headers=owner)
        assert own.status_code == 403 and own.json()["code"] == "self_review"
        # another reviewer decides them
        kept = c.post(url, json={"decision": "keep"}, headers=other)
        assert kept.status_code == 200, kept.text
        # giving access up is always the owner's to ask for: quarantined now, the revoke
        # itself waits for a second person (session 14: revoked is final)
        gone = c.post(
            f"{job_url}/decision", json={"decision": "revoke", "comment": "retired"}, headers=owner
        )
        assert gone.status_code == 200, gone.text
        assert gone.json()["revoke_request"]["status"] == "awaiting_approval"
    with runtime.store.session() as s:
        job = s.get(Integration, estate["job"])
        assert job is not None and job.status == IntegrationStatus.QUARANTINED


def test_an_unlinked_account_declared_with_the_owners_email_is_the_owner(
    app: FastAPI,
    runtime: Runtime,
    clock: FixedClock,
    identity_settings: IdentitySettings,
    estate: dict[str, str],
) -> None:
    """An administrator-declared person email (not linked yet) counts as the same person."""
    sa = _bearer(runtime, identity_settings, "sa@example.com", ["security-analyst"])
    ali = _bearer(
        runtime, identity_settings, "ali", ["security-analyst"], person_email="alice@example.com"
    )
    with TestClient(app, base_url="https://rf.example") as c:
        cid = _campaign(c, sa, clock)["id"]
        url = f"/api/v1/identity/reviews/{cid}/items/{_item(c, cid, sa, 'crm-to-chat')}/decision"
        refused = c.post(url, json={"decision": "keep"}, headers=ali)
        assert refused.status_code == 403 and refused.json()["code"] == "self_review"


def test_a_campaign_only_its_owner_could_decide_is_reported(
    app: FastAPI,
    runtime: Runtime,
    clock: FixedClock,
    identity_settings: IdentitySettings,
    estate: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sole analyst owns every integration of the campaign: nobody else can keep them.
    Reported at creation (response, audit), by show, the console, the CLI and reminders."""
    alice = _bearer(runtime, identity_settings, "alice@example.com", ["security-analyst"])
    with TestClient(app, base_url="https://rf.example") as c:
        created = _campaign(c, alice, clock, scope_kind="owner", scope="alice@example.com")
        assert created["no_independent_reviewer"] == ["crm-report", "crm-to-chat"]
        cid = created["id"]
        shown = c.get(f"/api/v1/identity/reviews/{cid}", headers=alice).json()
        assert shown["no_independent_reviewer"] == ["crm-report", "crm-to-chat"]
    with runtime.store.session() as s:
        (record,) = s.scalars(
            select(AuditRecord).where(AuditRecord.action == "review.no_independent_reviewer")
        ).all()
        assert record.after == {"integrations": ["crm-report", "crm-to-chat"]}
    reviews = AccessReviews(runtime.store, runtime.clock)
    reminders = reviews.reminders(within_days=3, actor="t")
    stalled = [r for r in reminders if r.reviewer == NO_INDEPENDENT]
    assert [(r.campaign, r.pending) for r in stalled] == [("q4", 2)]

    monkeypatch.setenv("RINGFENCE_STORE_URL", runtime.settings.resolved_store_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    try:
        main(["reviews", "show", "q4", "-o", "json"])
    except SystemExit as exc:
        assert not exc.code
    out, err = capsys.readouterr()
    assert "no reviewer but their own owner for 2 integration(s)" in err
    assert out.strip().startswith("[")  # the JSON on stdout stays parseable

    # a second analyst who owns none of them: nothing stalls any more
    _bearer(runtime, identity_settings, "sa@example.com", ["security-analyst"])
    assert reviews.without_independent_reviewer("q4") == []


def test_bad_decisions_are_clear_4xx(
    app: FastAPI,
    runtime: Runtime,
    clock: FixedClock,
    identity_settings: IdentitySettings,
    estate: dict[str, str],
) -> None:
    sa = _bearer(runtime, identity_settings, "sa@example.com", ["security-analyst"])
    with TestClient(app, base_url="https://rf.example") as c:
        cid = _campaign(c, sa, clock)["id"]
        base = f"/api/v1/identity/reviews/{cid}/items"
        item = _item(c, cid, sa, "crm-to-chat")
        for url, body in (
            (f"{base}/nope/decision", {"decision": "keep"}),
            (f"{base}/{item}/decision", {"decision": "approve"}),
            (f"{base}/{item}/decision", {"decision": "keep", "decider": "someone-else"}),
            (f"{base}/{item}/decision", ["keep"]),
        ):
            r = c.post(url, json=body, headers=sa)
            assert 400 <= r.status_code < 500, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
