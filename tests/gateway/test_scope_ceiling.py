"""An integration's declared scopes are the ceiling of what its clients may use at the
gateway: narrowing them (an access review's "reduce") takes effect on the next snapshot."""

from __future__ import annotations

from sqlalchemy import update

from ringfence.gateway.policy import fingerprint
from ringfence.store.models import Integration
from tests.gateway.conftest import Env


async def test_narrowing_declared_scopes_narrows_the_client(env: Env) -> None:
    token = await env.token(env.a)  # client a holds crm.read + crm.write
    body = {"name": "Ann"}
    headers = {"authorization": f"Bearer {token}"}
    assert (await env.http.post("/crm/contacts", json=body, headers=headers)).status_code == 200

    before = fingerprint(env.rt.store)
    with env.rt.store.session() as s:
        s.execute(
            update(Integration).where(Integration.name == "hr-to-crm").values(scopes=["crm.read"])
        )
    assert fingerprint(env.rt.store) != before  # the watcher sees the change
    assert env.gateway.holder.reload(), env.gateway.holder.last_error

    # The same, still valid token: write is gone, read still works.
    denied = await env.http.post("/crm/contacts", json=body, headers=headers)
    assert denied.status_code == 403 and denied.json()["code"] == "insufficient_scope"
    assert (await env.get("/crm/contacts", token)).status_code == 200


async def test_no_declared_scopes_sets_no_ceiling(env: Env) -> None:
    # billing-to-crm declares nothing: its client keeps what it was granted (crm.read).
    token = await env.token(env.b)
    assert (await env.get("/crm/contacts", token)).status_code == 200
