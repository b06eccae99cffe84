"""End to end: identity changes in the store reach the running gateway (fail closed)."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import httpx
from sqlalchemy import select

from ringfence.api.app import create_app
from ringfence.identity import lifecycle
from ringfence.identity.reviews import AccessReviews
from ringfence.identity.scim import ScimTokens
from ringfence.respond.engine import Responder
from ringfence.store.models import Integration, Person
from tests.gateway.conftest import Env

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


async def _refused_within_a_second(env: Env, token: str) -> httpx.Response:
    changed = time.monotonic()
    while True:
        r = await env.get("/crm/contacts", token)
        if r.status_code != 200 or time.monotonic() - changed > 1.0:
            return r
        await asyncio.sleep(0.02)


async def test_scim_deactivation_stops_the_owners_integration_at_the_gateway(env: Env) -> None:
    with env.rt.store.session() as s:
        alice = Person(email="alice@example.com", name="Alice")
        bob = Person(email="bob@example.com", name="Bob")
        s.add_all([alice, bob])
        s.flush()
        integ = s.scalar(select(Integration).where(Integration.name == "hr-to-crm"))
        assert integ is not None
        integ.owner_id = alice.id
        alice_id, bob_id, integ_id = alice.id, bob.id, integ.id
    token = await env.token(env.a)
    assert (await env.get("/crm/contacts", token)).status_code == 200

    scim_token = ScimTokens(env.rt.store, env.rt.clock).issue("okta").token.get_secret_value()
    api = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(env.rt)),
        base_url="https://rf.example",
        headers={"Authorization": f"Bearer {scim_token}"},
    )
    async with api:
        created = await api.post(
            "/scim/v2/Users", json={"schemas": [USER], "userName": "alice@example.com"}
        )
        assert created.status_code == 201 and created.json()["id"] == alice_id
        patched = await api.patch(
            f"/scim/v2/Users/{alice_id}",
            json={
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
            },
        )
        assert patched.status_code == 200
    r = await _refused_within_a_second(env, token)
    assert r.status_code == 403 and r.json()["code"] == "integration_quarantined"
    with env.rt.store.session() as s:
        assert [f.integration_id for f in lifecycle.open_findings(s, alice_id)] == [integ_id]
        # the other integration is untouched
    tb = await env.token(env.b)
    assert (await env.get("/crm/contacts", tb)).status_code == 200
    # a new owner lifts the quarantine
    with env.rt.store.session() as s:
        lifecycle.reassign_owner(s, integ_id, bob_id, actor="t", clock=env.rt.clock)
    env.gateway.holder.reload()
    fresh = await env.token(env.a)
    assert (await env.get("/crm/contacts", fresh)).status_code == 200


async def test_access_review_revoke_is_enforced_by_the_gateway(env: Env) -> None:
    token = await env.token(env.b)
    assert (await env.get("/crm/contacts", token)).status_code == 200
    reviews = AccessReviews(env.rt.store, env.rt.clock)
    campaign = reviews.create(
        "crm-q3",
        scope_kind="app",
        scope_ref="crm",
        due_at=env.rt.clock.now() + timedelta(days=7),
        actor="t",
    )
    item = next(i for i in reviews.items(campaign.id) if i["integration"] == "billing-to-crm")
    done = reviews.decide(campaign.id, item["id"], decision="revoke", comment="unused", actor="t")
    # Stopped at once (quarantined); revoked once a second person approves (session 14).
    r = await _refused_within_a_second(env, token)
    assert r.status_code == 403 and r.json()["code"] == "integration_quarantined"
    assert done.revoke_request is not None
    Responder(env.rt.store, env.rt.vault, env.rt.clock).approve(
        done.revoke_request.incident, 2, actor="user:second-reviewer"
    )
    env.gateway.holder.reload()
    r = await env.get("/crm/contacts", token)
    assert r.status_code == 403 and r.json()["code"] == "integration_revoked"
