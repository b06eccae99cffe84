"""A "reduce" decision keeps only scopes the integration still holds (review 9, finding 3).

The campaign snapshots the granted scopes when it starts; a scope the security team removed
afterwards must not come back through an owner's "reduce" that lists it as kept.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ringfence.core.clock import FixedClock
from ringfence.core.errors import ConflictError
from ringfence.identity.accounts import Accounts
from ringfence.identity.reviews import AccessReviews
from ringfence.identity.roles import scopes_of
from ringfence.identity.settings import IdentitySettings
from ringfence.runtime import Runtime
from ringfence.store.models import Integration

CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def _open_campaign_then_cut_a_scope(runtime: Runtime, clock: FixedClock, sync_id: str) -> str:
    reviews = AccessReviews(runtime.store, runtime.clock)
    cid = reviews.create(
        "q3-alice",
        scope_kind="owner",
        scope_ref="alice@example.com",
        due_at=clock.now() + timedelta(days=14),
        actor="user:analyst",
    ).id
    # The analyst removes users:read after the campaign opened.
    with runtime.store.session() as s:
        integ = s.get(Integration, sync_id)
        assert integ is not None
        integ.scopes = ["chat:read", "chat:write"]
    return cid


def _scopes(runtime: Runtime, integ_id: str) -> list[str]:
    with runtime.store.session() as s:
        integ = s.get(Integration, integ_id)
        assert integ is not None
        return sorted(integ.scopes)


def test_reduce_cannot_keep_a_scope_removed_after_the_campaign_started(
    runtime: Runtime, clock: FixedClock, estate: dict[str, str]
) -> None:
    cid = _open_campaign_then_cut_a_scope(runtime, clock, estate["sync"])
    reviews = AccessReviews(runtime.store, runtime.clock)
    item = next(i for i in reviews.items(cid) if i["integration"] == "crm-to-chat")
    assert item["granted_scopes"] == ["chat:read", "chat:write", "users:read"]
    with pytest.raises(ConflictError) as refused:
        reviews.decide(
            cid,
            item["id"],
            decision="reduce",
            kept_scopes=["chat:write", "users:read"],
            comment="least privilege",
            actor="user:alice",
            only_reviewer=estate["alice"],
        )
    assert "users:read" in refused.value.message
    assert refused.value.code == "scope_no_longer_granted"
    assert _scopes(runtime, estate["sync"]) == ["chat:read", "chat:write"]
    # The item shows both: what the campaign reviewed and what is granted now.
    item = next(i for i in reviews.items(cid) if i["integration"] == "crm-to-chat")
    assert item["current_scopes"] == ["chat:read", "chat:write"] and item["decision"] is None
    # Nothing recorded: the owner can still decide, keeping what is still granted.
    reviews.decide(
        cid,
        item["id"],
        decision="reduce",
        kept_scopes=["chat:write"],
        comment="least privilege",
        actor="user:alice",
        only_reviewer=estate["alice"],
    )
    assert _scopes(runtime, estate["sync"]) == ["chat:write"]


def test_reduce_through_the_api_names_the_removed_scope(
    app: FastAPI,
    runtime: Runtime,
    clock: FixedClock,
    identity_settings: IdentitySettings,
    estate: dict[str, str],
) -> None:
    cid = _open_campaign_then_cut_a_scope(runtime, clock, estate["sync"])
    accounts = Accounts(runtime.store, runtime.vault, clock, identity_settings, CHEAP)
    # an analyst: the owner may not reduce her own integration (segregation of duties)
    analyst = accounts.create_user("sa@example.com", roles=["security-analyst"], password=None)
    roles = ["security-analyst"]
    tok = accounts.issue_token(analyst.id, "t", sorted(scopes_of(roles)), 30, actor="t")
    headers = {"Authorization": f"Bearer {tok.token.get_secret_value()}"}
    with TestClient(app, base_url="https://rf.example") as c:
        items = c.get(f"/api/v1/identity/reviews/{cid}", headers=headers).json()["items"]
        item = next(i for i in items if i["integration"] == "crm-to-chat")
        url = f"/api/v1/identity/reviews/{cid}/items/{item['id']}/decision"
        body = {
            "decision": "reduce",
            "comment": "least privilege",
            "kept_scopes": ["chat:write", "users:read"],
        }
        r = c.post(url, json=body, headers=headers)
        assert r.status_code == 409, r.text
        assert r.json()["code"] == "scope_no_longer_granted" and "users:read" in r.json()["detail"]
    assert _scopes(runtime, estate["sync"]) == ["chat:read", "chat:write"]
