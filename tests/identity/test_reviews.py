"""Access reviews: campaigns, granted vs used, decisions applied, reminders, evidence."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import orjson
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from ringfence.core.clock import FixedClock
from ringfence.core.errors import ConflictError, NotFoundError, ValidationError
from ringfence.gateway.usage import UsageCounter, record_usage
from ringfence.identity.accounts import Accounts
from ringfence.identity.models import ConsoleUser
from ringfence.identity.reviews import AccessReviews
from ringfence.identity.roles import scopes_of
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime
from ringfence.store import audit
from ringfence.store.models import Integration, IntegrationStatus

CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def reviews(runtime: Runtime) -> AccessReviews:
    return AccessReviews(runtime.store, runtime.clock)


def _campaign(reviews: AccessReviews, clock: FixedClock, name: str = "q3-crm", **kw: Any) -> str:
    args: dict[str, Any] = {
        "scope_kind": "app",
        "scope_ref": "crm",
        "due_at": clock.now() + timedelta(days=14),
        "actor": "user:analyst",
        "used_scopes": {"crm-to-chat": ["chat:write"], "crm-report": ["crm:read"]},
    }
    args.update(kw)
    return reviews.create(name, **args).id


def _item(reviews: AccessReviews, ref: str, integration: str) -> dict[str, Any]:
    return next(i for i in reviews.items(ref) if i["integration"] == integration)


def test_campaign_lists_granted_vs_used_and_decisions_apply_in_the_store(
    reviews: AccessReviews, runtime: Runtime, clock: FixedClock, estate: dict[str, str]
) -> None:
    cid = _campaign(reviews, clock)
    sync = _item(reviews, cid, "crm-to-chat")
    assert sync["granted_scopes"] == ["chat:read", "chat:write", "users:read"]
    assert sync["used_scopes"] == ["chat:write"] and sync["used_source"] == "input"
    assert sync["unused_scopes"] == ["chat:read", "users:read"]
    assert sync["owner"] == "alice@example.com"
    reviews.decide(
        cid,
        sync["id"],
        decision="reduce",
        kept_scopes=["chat:write"],
        comment="only posts messages",
        actor="user:alice",
    )
    job = _item(reviews, cid, "crm-report")
    reviews.decide(cid, job["id"], decision="revoke", comment="report retired", actor="user:alice")
    with runtime.store.session() as s:
        integ = s.get(Integration, estate["sync"])
        assert integ is not None and integ.scopes == ["chat:write"]
        assert integ.status == IntegrationStatus.ACTIVE
        # quarantined now; revoked once a second person approves (session 14, four eyes)
        retired = s.get(Integration, estate["job"])
        assert retired is not None and retired.status == IntegrationStatus.QUARANTINED
    assert audit.verify(runtime.store).ok
    assert reviews.close(cid, actor="user:analyst") == {"decided": 2, "undecided": 0}
    with pytest.raises(ConflictError):
        reviews.decide(cid, sync["id"], decision="keep", comment="", actor="user:alice")


def test_bad_decisions_change_nothing(
    reviews: AccessReviews, runtime: Runtime, clock: FixedClock, estate: dict[str, str]
) -> None:
    cid = _campaign(reviews, clock)
    sync = _item(reviews, cid, "crm-to-chat")
    for kwargs in (
        {"decision": "delete", "comment": "x" * 5},
        {"decision": "revoke", "comment": ""},
        {"decision": "reduce", "comment": "narrow", "kept_scopes": ["admin:all"]},
        {"decision": "reduce", "comment": "narrow", "kept_scopes": []},
        {"decision": "keep", "comment": "", "kept_scopes": ["chat:write"]},
    ):
        with pytest.raises(ValidationError):
            reviews.decide(cid, sync["id"], actor="t", **kwargs)
    with pytest.raises(NotFoundError):
        reviews.decide(cid, "nope", decision="keep", comment="", actor="t")
    with runtime.store.session() as s:
        integ = s.get(Integration, estate["sync"])
        assert integ is not None and len(integ.scopes) == 3
    assert _item(reviews, cid, "crm-to-chat")["decision"] is None


def test_bad_campaigns_are_refused(
    reviews: AccessReviews, clock: FixedClock, estate: dict[str, str]
) -> None:
    with pytest.raises(ValidationError):
        _campaign(reviews, clock, due_at=clock.now() - timedelta(days=1))
    with pytest.raises(ValidationError):
        _campaign(reviews, clock, scope_kind="vendor")
    with pytest.raises(NotFoundError):
        _campaign(reviews, clock, scope_ref="no-such-app")
    with pytest.raises(ValidationError):
        _campaign(reviews, clock, scope_kind="owner", scope_ref="bob@example.com")
    with pytest.raises(ValidationError):
        _campaign(reviews, clock, used_scopes={"not-in-campaign": ["x"]})
    _campaign(reviews, clock)
    with pytest.raises(ConflictError):
        _campaign(reviews, clock)


def test_used_scopes_come_from_the_gateway_usage_table_when_present(
    reviews: AccessReviews, runtime: Runtime, clock: FixedClock, estate: dict[str, str]
) -> None:
    # What the gateway writes (ringfence.gateway.usage) when crm-to-chat calls through it.
    when = clock.now()
    counter = UsageCounter()
    for _ in range(5):
        counter.add("crm-to-chat", ["chat:read"], "chat GET /chat/messages", when)
    counter.add("crm-to-chat", ["users:read"], "chat GET /chat/users", when)
    record_usage(runtime.store, counter.take())
    cid = reviews.create(
        "owner-alice",
        scope_kind="owner",
        scope_ref="alice@example.com",
        due_at=clock.now() + timedelta(days=7),
        actor="t",
    ).id
    sync = _item(reviews, cid, "crm-to-chat")
    assert sync["used_source"] == "gateway"
    assert sync["used_scopes"] == ["chat:read", "users:read"]
    assert _item(reviews, cid, "crm-report")["used_scopes"] == []


def test_reminders_once_a_day_and_overdue(
    reviews: AccessReviews, clock: FixedClock, estate: dict[str, str]
) -> None:
    _campaign(reviews, clock, due_at=clock.now() + timedelta(days=5))
    assert reviews.reminders(within_days=3, actor="t") == []  # not due soon yet
    clock.advance(days=3)
    first = reviews.reminders(within_days=3, actor="t")
    assert [(r.reviewer, r.pending, r.overdue) for r in first] == [("alice@example.com", 2, False)]
    assert reviews.reminders(within_days=3, actor="t") == []  # once a day
    clock.advance(days=3)
    again = reviews.reminders(within_days=3, actor="t")
    assert again[0].overdue is True


def test_reminders_are_delivered_to_each_reviewer_and_retried_when_undelivered(
    reviews: AccessReviews, clock: FixedClock, estate: dict[str, str]
) -> None:
    import socket
    import threading

    from ringfence.identity.reviews import reminder_sender
    from ringfence.monitor.sinks import EmailSink, WebhookSink
    from tests.monitor.test_sinks import _SmtpHandler, _Tcp

    _campaign(reviews, clock, due_at=clock.now() + timedelta(days=1))
    # A sink that is down: nothing delivered, the campaign is reminded again on the next run.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    down = WebhookSink("chat", f"http://127.0.0.1:{port}/hook", timeout=1)
    (failed,) = reviews.reminders(within_days=3, actor="t", send=reminder_sender(down))
    assert failed.delivery is not None and failed.delivery.startswith("failed: ")
    server: Any = _Tcp(("127.0.0.1", 0), _SmtpHandler)
    server.envelope, server.messages = [], []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        mail = EmailSink(
            "mail", "127.0.0.1", server.server_address[1], "rf@example.com",
            ["security@example.com"], starttls=False,
        )  # fmt: skip
        (sent,) = reviews.reminders(within_days=3, actor="t", send=reminder_sender(mail))
        assert sent.delivery == "sent" and sent.reviewer == "alice@example.com"
        # To the reviewer, not to the sink's own recipients; says what to do and by when.
        rcpts = [line for line in server.envelope if line.upper().startswith("RCPT")]
        assert len(rcpts) == 1 and "alice@example.com" in rcpts[0]
        assert not any("security@example.com" in line for line in server.envelope)
        (body,) = server.messages
        assert b"q3-crm" in body and b"2 integration(s)" in body
        # Delivered: once a day again.
        assert reviews.reminders(within_days=3, actor="t", send=reminder_sender(mail)) == []
    finally:
        server.shutdown()
        server.server_close()


def test_reminders_do_not_hold_the_write_lock_while_sending(
    reviews: AccessReviews, runtime: Runtime, clock: FixedClock, estate: dict[str, str]
) -> None:
    """A slow mail server must not block every audited write (review M4): while a reminder is
    being sent, another writer can append to the audit log at once."""
    import threading
    import time

    # Two campaigns: sending the second one's reminder used to happen after the first one's
    # audit record had taken the write lock.
    _campaign(reviews, clock, due_at=clock.now() + timedelta(days=1))
    _campaign(reviews, clock, name="q3-crm-2", due_at=clock.now() + timedelta(days=1))
    wrote: list[float] = []

    def slow_send(reminder: Any) -> None:
        def other_writer() -> None:
            started = time.monotonic()
            audit.append_standalone(
                runtime.store, actor="t", action="other.write", entity_type="x", clock=clock
            )
            wrote.append(time.monotonic() - started)

        t = threading.Thread(target=other_writer)
        t.start()
        t.join(3)

    sent = reviews.reminders(within_days=3, actor="t", send=slow_send)
    assert [r.delivery for r in sent] == ["sent", "sent"]
    assert len(wrote) == 2 and max(wrote) < 2.0, wrote


def test_a_retry_reaches_only_the_reviewers_the_last_run_missed(
    reviews: AccessReviews, runtime: Runtime, clock: FixedClock, estate: dict[str, str]
) -> None:
    from ringfence.identity.reviews import ReminderNotSent

    with runtime.store.session() as s:
        job = s.get(Integration, estate["job"])
        assert job is not None
        job.owner_id = estate["bob"]
    _campaign(reviews, clock, due_at=clock.now() + timedelta(days=1))
    sent: list[str] = []
    bob_down = True

    def send(r: Any) -> None:
        if r.reviewer == "bob@example.com" and bob_down:
            raise ReminderNotSent("mailbox full")
        sent.append(r.reviewer)

    first = reviews.reminders(within_days=3, actor="t", send=send)
    assert {r.reviewer: r.delivery for r in first} == {
        "alice@example.com": "sent",
        "bob@example.com": "failed: mailbox full",
    }
    bob_down = False
    clock.advance(hours=1)
    second = reviews.reminders(within_days=3, actor="t", send=send)
    assert [r.reviewer for r in second] == ["bob@example.com"]  # alice is not reminded twice
    assert sent == ["alice@example.com", "bob@example.com"]
    assert reviews.reminders(within_days=3, actor="t", send=send) == []  # done for the day


def test_a_decided_item_is_not_decided_again(
    reviews: AccessReviews, clock: FixedClock, estate: dict[str, str]
) -> None:
    """An owner's later "keep" must not overwrite the analyst's "reduce" in the evidence."""
    cid = _campaign(reviews, clock)
    sync = _item(reviews, cid, "crm-to-chat")
    reviews.decide(
        cid, sync["id"], decision="reduce", kept_scopes=["chat:write"],
        comment="least privilege", actor="user:analyst",
    )  # fmt: skip
    with pytest.raises(ConflictError, match="decided already"):
        reviews.decide(cid, sync["id"], decision="keep", comment="", actor="user:alice")
    assert _item(reviews, cid, "crm-to-chat")["decision"] == "reduce"


def test_a_campaign_name_with_control_characters_is_refused(
    reviews: AccessReviews, clock: FixedClock, estate: dict[str, str]
) -> None:
    with pytest.raises(ValidationError, match="control characters"):
        _campaign(reviews, clock, name="q3\nBcc: attacker@example.com")


def test_evidence_export_csv_and_json(
    reviews: AccessReviews, runtime: Runtime, clock: FixedClock, estate: dict[str, str]
) -> None:
    cid = _campaign(reviews, clock)
    sync = _item(reviews, cid, "crm-to-chat")
    reviews.decide(
        cid, sync["id"], decision="keep", comment='=HYPERLINK("evil")', actor="user:alice"
    )
    data = orjson.loads(reviews.export(cid, "json"))
    assert data["campaign"] == "q3-crm" and len(data["items"]) == 2
    assert data["audit_chain_head"] == audit.verify(runtime.store).head
    rows = list(csv.reader(io.StringIO(reviews.export(cid, "csv"))))
    header = rows[1]
    assert header[0] == "integration" and "unused_scopes" in header
    by_name = {r[0]: dict(zip(header, r, strict=True)) for r in rows[2:]}
    assert by_name["crm-to-chat"]["decision"] == "keep"
    assert by_name["crm-to-chat"]["comment"].startswith("'=")  # no formula injection
    with pytest.raises(ValidationError):
        reviews.export(cid, "xlsx")


# -- through the API, with roles -------------------------------------------------------------
def _bearer(
    runtime: Runtime, clock: FixedClock, settings: IdentitySettings, user: str, roles: list[str]
) -> dict[str, str]:
    accounts = Accounts(runtime.store, runtime.vault, clock, settings, CHEAP)
    made = accounts.create_user(user, roles=roles, password="correct horse battery")
    tok = accounts.issue_token(made.id, "t", sorted(scopes_of(roles)), 30, actor="t")
    return {"Authorization": f"Bearer {tok.token.get_secret_value()}"}


def test_review_api_roles(
    app: FastAPI,
    runtime: Runtime,
    clock: FixedClock,
    identity_settings: IdentitySettings,
    estate: dict[str, str],
) -> None:
    analyst = _bearer(runtime, clock, identity_settings, "sa@example.com", ["security-analyst"])
    auditor = _bearer(runtime, clock, identity_settings, "aud@example.com", ["auditor"])
    bob = _bearer(runtime, clock, identity_settings, "bob@example.com", ["integration-owner"])
    alice = _bearer(runtime, clock, identity_settings, "alice@example.com", ["integration-owner"])
    # Alice again, as an account that also audits: she sees every item but decides her own.
    alice_audits = _bearer(
        runtime, clock, identity_settings, "alice.audit", ["integration-owner", "auditor"]
    )
    with runtime.store.session() as s:
        audit_account = s.scalars(
            select(ConsoleUser).where(ConsoleUser.username == "alice.audit")
        ).one()
        audit_account.person_id = estate["alice"]
        job = s.get(Integration, estate["job"])
        assert job is not None
        job.owner_id = estate["bob"]
    body = {
        "name": "q3",
        "scope_kind": "app",
        "scope": "crm",
        "due_at": (clock.now() + timedelta(days=10)).isoformat(),
    }
    with TestClient(app, base_url="https://rf.example") as c:
        assert c.post("/api/v1/identity/reviews", json=body, headers=auditor).status_code == 403
        assert c.post("/api/v1/identity/reviews", json=body, headers=alice).status_code == 403
        bad = {**body, "due_at": "2026-13-01"}
        assert c.post("/api/v1/identity/reviews", json=bad, headers=analyst).status_code == 422
        made = c.post("/api/v1/identity/reviews", json=body, headers=analyst)
        assert made.status_code == 201, made.text
        cid = made.json()["id"]
        mine = c.get(f"/api/v1/identity/reviews/{cid}", headers=alice).json()["items"]
        assert [i["integration"] for i in mine] == ["crm-to-chat"]
        everything = c.get(f"/api/v1/identity/reviews/{cid}", headers=auditor).json()["items"]
        assert len(everything) == 2
        job_item = next(i for i in everything if i["integration"] == "crm-report")
        url = f"/api/v1/identity/reviews/{cid}/items/{job_item['id']}/decision"
        revoke = {"decision": "revoke", "comment": "not mine but revoke"}
        assert c.post(url, json=revoke, headers=alice).status_code == 403
        assert c.post(url, json=revoke, headers=auditor).status_code == 403
        assert c.post(url, json=revoke, headers=alice_audits).status_code == 403
        ok = c.post(url, json={"decision": "revoke", "comment": "retired"}, headers=bob)
        assert ok.status_code == 200, ok.text
        export = c.get(f"/api/v1/identity/reviews/{cid}/export?format=csv", headers=auditor)
        assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
        assert c.get(f"/api/v1/identity/reviews/{cid}/export", headers=alice).status_code == 403
        assert c.post(f"/api/v1/identity/reviews/{cid}/close", headers=alice).status_code == 403
        assert c.post(f"/api/v1/identity/reviews/{cid}/close", headers=analyst).status_code == 200
    with runtime.store.session() as s:
        job = s.get(Integration, estate["job"])  # revoked once a second person approves
        assert job is not None and job.status == IntegrationStatus.QUARANTINED


def test_reassigned_integration_moves_its_open_review_item_to_the_new_owner(
    app: FastAPI,
    runtime: Runtime,
    clock: FixedClock,
    identity_settings: IdentitySettings,
    estate: dict[str, str],
) -> None:
    from ringfence.identity.lifecycle import reassign_owner

    analyst = _bearer(runtime, clock, identity_settings, "sa@example.com", ["security-analyst"])
    bob = _bearer(runtime, clock, identity_settings, "bob@example.com", ["integration-owner"])
    alice = _bearer(runtime, clock, identity_settings, "alice@example.com", ["integration-owner"])
    body = {
        "name": "q4",
        "scope_kind": "app",
        "scope": "crm",
        "due_at": (clock.now() + timedelta(days=10)).isoformat(),
    }
    with TestClient(app, base_url="https://rf.example") as c:
        cid = c.post("/api/v1/identity/reviews", json=body, headers=analyst).json()["id"]
        mine = c.get(f"/api/v1/identity/reviews/{cid}", headers=alice).json()["items"]
        assert sorted(i["integration"] for i in mine) == ["crm-report", "crm-to-chat"]
        assert c.get(f"/api/v1/identity/reviews/{cid}", headers=bob).json()["items"] == []
        with runtime.store.session() as s:
            reassign_owner(s, estate["job"], estate["bob"], actor="user:sa", clock=clock)
        job_item = next(i for i in mine if i["integration"] == "crm-report")
        url = f"/api/v1/identity/reviews/{cid}/items/{job_item['id']}/decision"
        decision = {"decision": "revoke", "comment": "handed over, retire it"}
        # The previous owner lost the say over it; the new owner sees and decides it.
        assert c.post(url, json=decision, headers=alice).status_code == 403
        bobs = c.get(f"/api/v1/identity/reviews/{cid}", headers=bob).json()["items"]
        assert [(i["integration"], i["owner"]) for i in bobs] == [("crm-report", "bob@example.com")]
        assert c.post(url, json=decision, headers=bob).status_code == 200
        # An owner change made without the lifecycle helper (inventory edit) is honoured too.
        with runtime.store.session() as s:
            sync = s.get(Integration, estate["sync"])
            assert sync is not None
            sync.owner_id = estate["bob"]
        sync_item = next(i for i in mine if i["integration"] == "crm-to-chat")
        url = f"/api/v1/identity/reviews/{cid}/items/{sync_item['id']}/decision"
        assert (
            c.post(url, json={"decision": "keep", "comment": ""}, headers=alice).status_code == 403
        )
        # ... and, being its owner now, may not keep it himself (segregation of duties)
        own = c.post(url, json={"decision": "keep", "comment": ""}, headers=bob)
        assert own.status_code == 403 and own.json()["code"] == "self_review"
        assert (
            c.post(url, json={"decision": "keep", "comment": ""}, headers=analyst).status_code
            == 200
        )
