"""Session 14: an operation's ``bind`` is judged by the client's claim as it is now.

A token carries the client's claims as they were at issuance, for up to 15 minutes. Before,
``bind`` compared the path parameter with the token's copy only, so a client whose ``tenant``
was corrected in the store kept reaching the old tenant's objects with the tokens it already
held. The check costs one dict lookup per bound parameter, and bound operations never take the
native fast path (it declines them), so the Python path decides every one.
"""

from __future__ import annotations

from sqlalchemy import update

from ringfence.gateway.models import GatewayClient
from tests.gateway.conftest import Env


def _set_claims(env: Env, client_id: str, claims: dict[str, str]) -> None:
    with env.rt.store.session() as s:
        s.execute(
            update(GatewayClient).where(GatewayClient.client_id == client_id).values(claims=claims)
        )
    env.gateway.holder.reload()


async def test_a_token_issued_before_a_claim_changed_no_longer_reaches_the_old_object(
    env: Env,
) -> None:
    token = await env.token(env.a)
    assert (await env.get("/crm/tenants/t-a/invoices", token)).status_code == 200
    _set_claims(env, env.a.client_id, {"tenant": "t-z"})
    r = await env.get("/crm/tenants/t-a/invoices", token)
    assert r.status_code == 403 and r.json()["code"] == "object_forbidden"
    # nor the new one with the old token (its own claim still says t-a)
    assert (await env.get("/crm/tenants/t-z/invoices", token)).status_code == 403
    fresh = await env.token(env.a)
    assert (await env.get("/crm/tenants/t-z/invoices", fresh)).status_code == 200
    # operations without a bind are unaffected
    assert (await env.get("/crm/contacts", token)).status_code == 200


async def test_a_claim_removed_from_the_client_stops_its_tokens_on_bound_operations(
    env: Env,
) -> None:
    token = await env.token(env.a)
    _set_claims(env, env.a.client_id, {})
    r = await env.get("/crm/tenants/t-a/invoices", token)
    assert r.status_code == 403 and r.json()["code"] == "object_forbidden"
    event = env.audit.events[-1]
    assert event.reason == "object_forbidden" and event.decision == "deny"
