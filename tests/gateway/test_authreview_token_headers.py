"""Auth review (session 12): a bearer token whose JOSE header has the wrong *types* is a 401.

The header is read before any signature is checked, so anyone can send one. Before the fix a
``typ`` that is not a string (``1``, ``null``) or an ``alg`` that is a list reached ``.lower()``
or a frozenset lookup and raised: every proxied route and the introspection endpoint answered
503 ``gateway_error`` (logged as an unexpected error, audited as a gateway failure) to an
unauthenticated request, instead of 401.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.gateway.conftest import Env


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _with_header(token: str, **changes: Any) -> str:
    head, payload, sig = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    header.update(changes)
    return ".".join((_b64(json.dumps(header).encode()), payload, sig))


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"typ": 1}, "token_invalid"),
        ({"typ": None}, "token_invalid"),
        ({"typ": ["at+jwt"]}, "token_invalid"),
        ({"alg": ["EdDSA"]}, "token_alg"),
        ({"alg": {"EdDSA": 1}}, "token_alg"),
    ],
)
async def test_a_token_header_of_the_wrong_type_is_401_not_503(
    env: Env, changes: dict[str, Any], code: str
) -> None:
    token = _with_header(await env.token(env.a), **changes)
    r = await env.get("/crm/contacts", token)
    assert r.status_code == 401, r.text
    assert r.json()["code"] == code
    assert env.a.client_secret is not None
    auth = (env.a.client_id, env.a.client_secret.get_secret_value())
    r = await env.http.post("/oauth/introspect", data={"token": token}, auth=auth)
    assert r.status_code == 200 and r.json() == {"active": False}
    r = await env.http.post("/oauth/revoke", data={"token": token}, auth=auth)
    assert r.status_code == 200
