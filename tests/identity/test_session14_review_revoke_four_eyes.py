"""An access review's ``revoke`` needs a second person (session 14).

Revoked is final: ``POST /integrations/{ref}/revoke`` and a playbook's ``revoke_integration``
wait for a person other than the requester, but a review decision of ``revoke`` set the
integration revoked at once with one reviewer (a campaign has no certifier step: one
reviewer decides each item). Now the decision is recorded and quarantines the integration
(reversible containment, one person may) in one transaction, and asks for the revoke
through ``Responder.request_revoke`` with the reviewer as requester; the item links to the
request (audit ``review.revoke_request``, ``revoke_request`` in the items and the evidence)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from ringfence.core.clock import FixedClock
from ringfence.core.errors import UnavailableError
from ringfence.identity.reviews import AccessReviews
from ringfence.identity.settings import IdentitySettings
from ringfence.respond.engine import Responder
from ringfence.runtime import Runtime
from ringfence.store import audit
from ringfence.store.models import AuditRecord, Integration, IntegrationStatus
from tests.identity.test_reviews import _bearer

REVIEWS = "/api/v1/identity/reviews"


def _status(runtime: Runtime, integration_id: str) -> IntegrationStatus:
    with runtime.store.session() as s:
        integ = s.get(Integration, integration_id)
        assert integ is not None
        return integ.status


def _campaign(reviews: AccessReviews, clock: FixedClock) -> str:
    return reviews.create(
        "q3-crm",
        scope_kind="app",
        scope_ref="crm",
        due_at=clock.now() + timedelta(days=14),
        actor="user:analyst",
    ).id


def _item(reviews: AccessReviews, cid: str, integration: str) -> dict[str, Any]:
    return next(i for i in reviews.items(cid) if i["integration"] == integration)


def test_a_review_revoke_quarantines_and_waits_for_a_second_person(
    app: FastAPI,
    runtime: Runtime,
    clock: FixedClock,
    identity_settings: IdentitySettings,
    estate: dict[str, str],
) -> None:
    sa = _bearer(runtime, clock, identity_settings, "sa@example.com", ["security-analyst"])
    sb = _bearer(runtime, clock, identity_settings, "sb@example.com", ["security-analyst"])
    body = {
        "name": "q3",
        "scope_kind": "app",
        "scope": "crm",
        "due_at": (clock.now() + timedelta(days=10)).isoformat(),
    }
    with TestClient(app, base_url="https://rf.example") as c:
        cid = c.post(REVIEWS, json=body, headers=sa).json()["id"]
        items = c.get(f"{REVIEWS}/{cid}", headers=sa).json()["items"]
        job = next(i for i in items if i["integration"] == "crm-report")
        assert job["revoke_request"] is None
        url = f"{REVIEWS}/{cid}/items/{job['id']}/decision"
        r = c.post(url, json={"decision": "revoke", "comment": "report retired"}, headers=sa)
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["decision"] == "revoke"
        request = out["revoke_request"]
        assert request["status"] == "awaiting_approval"
        assert request["approve"] == (
            f"/api/v1/respond/incidents/{request['incident']}/steps/2/approve"
        )
        # Stopped now, not revoked: revoked is final and waits for a second person.
        assert _status(runtime, estate["job"]) is IntegrationStatus.QUARANTINED
        shown = next(
            i for i in c.get(f"{REVIEWS}/{cid}", headers=sa).json()["items"] if i["id"] == job["id"]
        )
        assert shown["decision"] == "revoke" and shown["comment"] == "report retired"
        assert shown["decided_by"] == "user:sa@example.com"
        assert shown["revoke_request"] == {
            "incident": request["incident"],
            "status": "awaiting_approval",
        }
        # The reviewer cannot approve their own revoke.
        mine = c.post(request["approve"], json={"comment": "sure"}, headers=sa)
        assert mine.status_code == 403 and mine.json()["code"] == "four_eyes"
        assert mine.headers["content-type"].startswith("application/problem+json")
        assert _status(runtime, estate["job"]) is IntegrationStatus.QUARANTINED
        # The decision is final in the review either way (the evidence keeps the first).
        again = c.post(url, json={"decision": "keep", "comment": ""}, headers=sb)
        assert again.status_code == 409
        ok = c.post(request["approve"], json={"comment": "confirmed"}, headers=sb)
        assert ok.status_code == 200, ok.text
        assert _status(runtime, estate["job"]) is IntegrationStatus.REVOKED
        evidence = c.get(f"{REVIEWS}/{cid}/export?format=json", headers=sa).json()
        linked = next(i for i in evidence["items"] if i["id"] == job["id"])["revoke_request"]
        assert linked == {"incident": request["incident"], "status": "contained"}
        text = c.get(f"{REVIEWS}/{cid}/export?format=csv", headers=sa).text
        rows = list(csv.reader(io.StringIO(text)))
        by_name = {r[0]: dict(zip(rows[1], r, strict=True)) for r in rows[2:]}
        assert by_name["crm-report"]["revoke_request"] == f"{request['incident']} (contained)"
        assert by_name["crm-to-chat"]["revoke_request"] == ""
    with runtime.store.session() as s:
        trail = [
            (a.action, a.actor)
            for a in s.scalars(
                select(AuditRecord)
                .order_by(AuditRecord.seq)
                .where(
                    AuditRecord.action.in_(
                        [
                            "review.revoke",
                            "review.revoke_request",
                            "integration.quarantine",
                            "integration.revoke",
                            "incident.open",
                        ]
                    )
                )
            )
        ]
    incident = f"incident:{request['incident']}"
    assert trail == [
        ("integration.quarantine", "user:sa@example.com"),
        ("review.revoke", "user:sa@example.com"),
        ("incident.open", "user:sa@example.com"),
        ("review.revoke_request", "user:sa@example.com"),
        ("integration.revoke", incident),
    ]
    assert audit.verify(runtime.store).ok


def test_an_owner_revoking_her_own_integration_asks_too(
    app: FastAPI,
    runtime: Runtime,
    clock: FixedClock,
    identity_settings: IdentitySettings,
    estate: dict[str, str],
) -> None:
    sa = _bearer(runtime, clock, identity_settings, "sa@example.com", ["security-analyst"])
    alice = _bearer(runtime, clock, identity_settings, "alice@example.com", ["integration-owner"])
    cid = _campaign(AccessReviews(runtime.store, clock), clock)
    job = _item(AccessReviews(runtime.store, clock), cid, "crm-report")
    with TestClient(app, base_url="https://rf.example") as c:
        url = f"{REVIEWS}/{cid}/items/{job['id']}/decision"
        r = c.post(url, json={"decision": "revoke", "comment": "not needed"}, headers=alice)
        assert r.status_code == 200, r.text
        assert _status(runtime, estate["job"]) is IntegrationStatus.QUARANTINED
        approve = r.json()["revoke_request"]["approve"]
        assert c.post(approve, json={}, headers=alice).status_code == 403
        assert c.post(approve, json={}, headers=sa).status_code == 200
    assert _status(runtime, estate["job"]) is IntegrationStatus.REVOKED


def test_the_cli_path_asks_and_a_waiting_request_is_joined(
    runtime: Runtime, clock: FixedClock, estate: dict[str, str]
) -> None:
    reviews = AccessReviews(runtime.store, clock)  # as the CLI and the console build it
    cid = _campaign(reviews, clock)
    job = _item(reviews, cid, "crm-report")
    done = reviews.decide(cid, job["id"], decision="revoke", comment="retired", actor="cli")
    assert done.revoke_request is not None
    assert done.revoke_request.status == "awaiting_approval"
    assert _status(runtime, estate["job"]) is IntegrationStatus.QUARANTINED
    # A revoke asked for elsewhere (POST /integrations/{ref}/revoke) before the decision: the
    # decision links to that request instead of opening a second one.
    responder = Responder(runtime.store, runtime.vault, clock)
    waiting, opened = responder.request_revoke("crm-to-chat", actor="user:carol")
    assert opened and waiting is not None
    sync = _item(reviews, cid, "crm-to-chat")
    joined = reviews.decide(cid, sync["id"], decision="revoke", comment="unused", actor="cli")
    assert joined.revoke_request is not None and joined.revoke_request.incident == waiting
    assert _item(reviews, cid, "crm-to-chat")["revoke_request"]["incident"] == waiting
    assert _status(runtime, estate["sync"]) is IntegrationStatus.QUARANTINED


class _StoreWentAway(AccessReviews):
    """Asking for the revoke fails once, after the decision committed."""

    failures = 1

    def _responder(self) -> Any:
        real = super()._responder()
        outer = self

        class Flaky:
            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

            def request_revoke(self, *args: Any, **kwargs: Any) -> Any:
                if outer.failures:
                    outer.failures -= 1
                    raise UnavailableError("the store is locked")
                return real.request_revoke(*args, **kwargs)

        return Flaky()


def test_a_revoke_decision_whose_request_failed_asks_again_for_its_reviewer(
    runtime: Runtime, clock: FixedClock, estate: dict[str, str]
) -> None:
    reviews = _StoreWentAway(runtime.store, clock)
    cid = _campaign(reviews, clock)
    job = _item(reviews, cid, "crm-report")
    with pytest.raises(UnavailableError):
        reviews.decide(cid, job["id"], decision="revoke", comment="retired", actor="user:dana")
    # Recorded and stopped (fail closed), no request yet.
    assert _status(runtime, estate["job"]) is IntegrationStatus.QUARANTINED
    item = _item(reviews, cid, "crm-report")
    assert item["decision"] == "revoke" and item["revoke_request"] is None
    # Posting the same decision again asks — as dana, who decided, not as whoever retries.
    done = reviews.decide(cid, job["id"], decision="revoke", comment="again", actor="user:erin")
    assert done.revoke_request is not None
    shown = Responder(runtime.store, runtime.vault, clock).show(done.revoke_request.incident)
    assert shown["opened_by"] == "user:dana"
    item = _item(reviews, cid, "crm-report")
    assert item["comment"] == "retired" and item["decided_by"] == "user:dana"
    # Once linked, a decision again is the usual 409.
    from ringfence.core.errors import ConflictError

    with pytest.raises(ConflictError):
        reviews.decide(cid, job["id"], decision="revoke", comment="third", actor="user:erin")


def test_bad_revoke_decisions_are_clear_and_change_nothing(
    app: FastAPI,
    runtime: Runtime,
    clock: FixedClock,
    identity_settings: IdentitySettings,
    estate: dict[str, str],
) -> None:
    sa = _bearer(runtime, clock, identity_settings, "sa@example.com", ["security-analyst"])
    cid = _campaign(AccessReviews(runtime.store, clock), clock)
    job = _item(AccessReviews(runtime.store, clock), cid, "crm-report")
    with TestClient(app, base_url="https://rf.example") as c:
        for url, body, status in [
            (f"{REVIEWS}/{cid}/items/{job['id']}/decision", {"decision": "revoke"}, 400),
            (f"{REVIEWS}/{cid}/items/{job['id']}/decision", {"decision": "revoke!"}, 422),
            (
                f"{REVIEWS}/{cid}/items/nope/decision",
                {"decision": "revoke", "comment": "x" * 5},
                404,
            ),
            (
                f"{REVIEWS}/nope/items/{job['id']}/decision",
                {"decision": "revoke", "comment": "abc"},
                404,
            ),
        ]:
            r = c.post(url, json=body, headers=sa)
            assert r.status_code == status, (url, body, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
    assert _status(runtime, estate["job"]) is IntegrationStatus.ACTIVE
    assert (
        orjson.loads(AccessReviews(runtime.store, clock).export(cid, "json"))["items"][0][
            "revoke_request"
        ]
        is None
    )


def test_the_cli_says_the_revoke_waits_and_a_colleague_approves_it(
    runtime: Runtime,
    clock: FixedClock,
    estate: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.identity.test_cli import run

    monkeypatch.setenv("RINGFENCE_STORE_URL", runtime.settings.resolved_store_url)
    cid = _campaign(AccessReviews(runtime.store, clock), clock)
    job = _item(AccessReviews(runtime.store, clock), cid, "crm-report")
    code, out, err = run(
        ["reviews", "decide", "q3-crm", job["id"], "--decision", "revoke", "-m", "retired"],
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    out = " ".join(out.split())
    request = _item(AccessReviews(runtime.store, clock), cid, "crm-report")["revoke_request"]
    assert "the revoke waits for a second person" in out
    assert f"ringfence respond approve {request['incident']} 2 --by NAME" in out
    assert _status(runtime, estate["job"]) is IntegrationStatus.QUARANTINED
    code, _, err = run(
        ["respond", "approve", request["incident"], "2", "--by", "bob"], capsys, monkeypatch
    )
    assert code == 0, err
    assert _status(runtime, estate["job"]) is IntegrationStatus.REVOKED
