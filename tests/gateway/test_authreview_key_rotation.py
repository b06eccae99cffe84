"""Auth review (session 12): rotating the signing key stops the old key from minting tokens.

``gateway signing-key rotate`` is the answer to a leaked signing key. The superseded key stays
published so that tokens it signed before the rotation live out their (≤ 15 minute) lifetime —
but it verified *any* token, whenever issued, until a second rotation retired it: a token
forged with the leaked key, ``iat`` set to the present, was accepted an hour (or a month) after
the rotation. A superseded key now verifies only tokens issued before it was superseded (with
the clock leeway), which also bounds it to the longest token lifetime.
"""

from __future__ import annotations

import jwt
from sqlalchemy import select

from ringfence.gateway.models import GatewaySigningKey
from ringfence.gateway.tokens import create_signing_key
from tests.gateway.attacks import claims_for
from tests.gateway.conftest import Env


def _forge(env: Env, kid: str, key: object, alg: str) -> str:
    return jwt.encode(
        claims_for(env.gateway, env.a.client_id, scope="crm.read"),
        key,  # type: ignore[arg-type]
        algorithm=alg,
        headers={"kid": kid, "typ": "at+jwt"},
    )


async def test_a_superseded_key_verifies_only_tokens_it_signed_before(env: Env) -> None:
    old = env.gateway.holder.current().keys
    assert old.active_kid is not None and old.active_alg is not None
    before = await env.token(env.a)  # signed by the old key before the rotation
    create_signing_key(env.rt.store, env.rt.vault, env.rt.clock)
    env.gateway.holder.reload()
    assert env.gateway.holder.current().keys.active_kid != old.active_kid
    # the old key's earlier token lives on, as documented
    assert (await env.get("/crm/contacts", before)).status_code == 200
    # within the leeway a straggler process's token is still fine
    env.rt.clock.advance(seconds=10)  # type: ignore[attr-defined]
    straggler = _forge(env, old.active_kid, old.active_key, old.active_alg)
    assert (await env.get("/crm/contacts", straggler)).status_code == 200
    # but a token "issued" with the old (leaked) key after the rotation is refused
    for later in (5 * 60, 60 * 60, 30 * 24 * 3600):
        env.rt.clock.advance(seconds=later)  # type: ignore[attr-defined]
        forged = _forge(env, old.active_kid, old.active_key, old.active_alg)
        r = await env.get("/crm/contacts", forged)
        assert r.status_code == 401, (later, r.text)
        assert r.json()["code"] == "token_kid"
    # the rotation did not retire it: it is still published (only a later rotation retires it)
    with env.rt.store.session() as s:
        row = s.scalar(select(GatewaySigningKey).where(GatewaySigningKey.kid == old.active_kid))
        assert row is not None and row.retired_at is None
    # and the new key signs as usual
    assert (await env.get("/crm/contacts", await env.token(env.a))).status_code == 200
