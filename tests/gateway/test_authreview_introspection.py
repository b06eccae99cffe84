"""Auth review (session 12): introspection (RFC 7662) says what the gateway itself would do.

A token the gateway refuses — its client revoked, its integration quarantined or revoked — was
reported ``active: true`` (only the signature, expiry and revoked ``jti``s were checked), and
``scope`` was the scope at issuance, not what the token may still use after the integration's
declared scopes were narrowed. A resource server that trusts introspection kept accepting it.
"""

from __future__ import annotations

from sqlalchemy import update

from ringfence.gateway.clients import CreatedClient, create_client, revoke_client
from ringfence.store.models import Integration, IntegrationStatus
from tests.gateway.conftest import Env


def _introspector(env: Env) -> CreatedClient:
    client = create_client(
        env.rt.store,
        env.rt.clock,
        integration="hr-to-crm",
        name="introspector",
        scopes=["gateway:introspect"],
    )
    env.gateway.holder.reload()
    return client


async def _introspect(env: Env, caller: CreatedClient, token: str) -> dict[str, object]:
    assert caller.client_secret is not None
    r = await env.http.post(
        "/oauth/introspect",
        data={"token": token},
        auth=(caller.client_id, caller.client_secret.get_secret_value()),
    )
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


async def test_a_revoked_clients_token_is_inactive(env: Env) -> None:
    caller = _introspector(env)
    token = await env.token(env.b)
    assert (await _introspect(env, caller, token))["active"] is True
    revoke_client(env.rt.store, env.rt.clock, env.b.client_id)
    env.gateway.holder.reload()
    assert (await env.get("/crm/contacts", token)).status_code == 401
    assert await _introspect(env, caller, token) == {"active": False}


async def test_a_quarantined_integrations_token_is_inactive(env: Env) -> None:
    caller = _introspector(env)
    token = await env.token(env.b)
    with env.rt.store.session() as s:
        s.execute(
            update(Integration)
            .where(Integration.name == "billing-to-crm")
            .values(status=IntegrationStatus.QUARANTINED)
        )
    env.gateway.holder.reload()
    assert (await env.get("/crm/contacts", token)).status_code == 403
    assert await _introspect(env, caller, token) == {"active": False}
    # its own client may still ask (and learns the same)
    assert await _introspect(env, env.b, token) == {"active": False}


async def test_the_scope_is_what_the_token_may_still_use(env: Env) -> None:
    token = await env.token(env.a)  # crm.read crm.write
    assert (await _introspect(env, env.a, token))["scope"] == "crm.read crm.write"
    with env.rt.store.session() as s:
        s.execute(
            update(Integration).where(Integration.name == "hr-to-crm").values(scopes=["crm.read"])
        )
    env.gateway.holder.reload()
    body = await _introspect(env, env.a, token)
    assert body["active"] is True and body["scope"] == "crm.read"


async def test_a_quarantined_introspector_sees_no_other_clients_tokens(env: Env) -> None:
    caller = _introspector(env)  # on hr-to-crm
    token = await env.token(env.b)  # billing-to-crm, active
    assert (await _introspect(env, caller, token))["active"] is True
    with env.rt.store.session() as s:
        s.execute(
            update(Integration)
            .where(Integration.name == "hr-to-crm")
            .values(status=IntegrationStatus.QUARANTINED)
        )
    env.gateway.holder.reload()
    assert await _introspect(env, caller, token) == {"active": False}
