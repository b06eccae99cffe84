"""Credential brokering: basic and OAuth 2.0 client credentials to the upstream, cached."""

from __future__ import annotations

import base64

import pytest

from ringfence.gateway.clients import save_routes
from ringfence.gateway.routes import RouteSpec
from tests.gateway import upstream
from tests.gateway.conftest import UPSTREAM_SECRET, Env


def _route(env: Env, name: str, prefix: str, credential: dict[str, str]) -> None:
    base = env.gateway.holder.current().routes[("crm",)].upstream_base
    spec = RouteSpec.model_validate(
        {
            "name": name,
            "app": "crm",
            "prefix": prefix,
            "upstream": base,
            "integrations": ["hr-to-crm"],
            "allow_loopback": True,
            "credential": credential,
            "operations": [{"method": "GET", "path": "/contacts", "scopes": ["crm.read"]}],
        }
    )
    save_routes(env.rt.store, [spec])
    assert env.gateway.holder.reload(), env.gateway.holder.last_error


async def test_upstream_oauth_token_is_fetched_once_and_injected(env: Env) -> None:
    origin = env.gateway.holder.current().routes[("crm",)].upstream_base.rsplit("/", 1)[0]
    _route(
        env,
        "crm-oauth",
        "/crm-o",
        {
            "ref": "vault:crm-upstream-token",
            "scheme": "oauth2_client_credentials",
            "token_url": origin + "/oauth/token",
            "client_id": "gw-client",
        },
    )
    token = await env.token(env.a)
    before = len(upstream.TOKEN_CALLS)
    seen = []
    for _ in range(3):
        r = await env.get("/crm-o/contacts", token)
        assert r.status_code == 200, r.text
        seen.append(r.json()["headers"]["authorization"])
    assert len(upstream.TOKEN_CALLS) == before + 1
    assert seen == [seen[0]] * 3 and seen[0].startswith("Bearer up-tok-")
    assert token not in seen[0]


async def test_basic_scheme_and_no_inbound_credential_leaks(env: Env) -> None:
    _route(env, "crm-basic", "/crm-b", {"ref": "vault:crm-upstream-token", "scheme": "basic"})
    token = await env.token(env.a)
    r = await env.get(
        "/crm-b/contacts", token, headers={"cookie": "session=abc", "x-api-key": "rf_gw_x"}
    )
    assert r.status_code in (200, 401)
    if r.status_code == 200:
        echo = r.json()["headers"]
        assert (
            echo["authorization"] == "Basic " + base64.b64encode(UPSTREAM_SECRET.encode()).decode()
        )
        assert "cookie" not in echo and "x-api-key" not in echo


async def test_failing_upstream_token_endpoint_fails_closed(env: Env) -> None:
    origin = env.gateway.holder.current().routes[("crm",)].upstream_base.rsplit("/", 1)[0]
    _route(
        env,
        "crm-oauth-bad",
        "/crm-x",
        {
            "ref": "env:NOPE_NOT_SET" if False else "vault:crm-upstream-token",
            "scheme": "oauth2_client_credentials",
            "token_url": origin + "/oauth/token",
            "client_id": "wrong-client",
        },
    )
    token = await env.token(env.a)
    r = await env.get("/crm-x/contacts", token)
    assert r.status_code == 503
    assert r.json()["code"] == "broker_unavailable"
    assert env.audit.events[-1].decision == "error"


@pytest.mark.parametrize("kind", ["crlf", "lf", "unicode", "empty", "number", "list"])
async def test_an_unusable_upstream_access_token_fails_closed(env: Env, kind: str) -> None:
    """The upstream token endpoint's access_token goes into a header of the request to the
    upstream: a line break in it would add headers of the endpoint's choosing (before: sent
    as is), a character outside Latin-1 made the broker fail with an internal error."""
    origin = env.gateway.holder.current().routes[("crm",)].upstream_base.rsplit("/", 1)[0]
    _route(
        env,
        f"crm-oauth-{kind}",
        f"/crm-{kind}",
        {
            "ref": "vault:crm-upstream-token",
            "scheme": "oauth2_client_credentials",
            "token_url": f"{origin}/oauth/token-bad/{kind}",
            "client_id": "gw-client",
        },
    )
    token = await env.token(env.a)
    r = await env.get(f"/crm-{kind}/contacts", token)
    assert r.status_code == 503, r.text
    assert r.json()["code"] == "broker_unavailable"
    assert "x-injected" not in r.text.lower()
