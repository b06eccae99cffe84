"""API7:2023 Server Side Request Forgery — path tricks, Host spoofing, private upstreams."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ringfence.gateway.routes import RouteSpec
from tests.gateway.conftest import Env


@pytest.mark.parametrize(
    "path",
    [
        "/crm/contacts/..%2f..%2fadmin",
        "/crm/contacts/%2e%2e/%2e%2e/admin",
        "/crm/contacts/%252e%252e",
        "/crm/contacts/a%2fb",
        "/crm/contacts/a%5cb",
        "/crm/contacts/../../etc",
        "/crm//contacts",
        "/crm/contacts/%00",
        "/crm/contacts/%ff%fe",
    ],
)
async def test_path_tricks_are_refused_before_matching(env: Env, path: str) -> None:
    token = await env.token(env.a)
    r = await env.get(path, token)
    assert r.status_code in (400, 404), path
    if r.status_code == 400:
        assert r.json()["code"] == "path_rejected"


async def test_host_and_forwarding_headers_do_not_change_the_upstream(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.get(
        "/crm/contacts",
        token,
        headers={
            "host": "169.254.169.254",
            "x-forwarded-host": "169.254.169.254",
            "x-original-url": "/latest/meta-data",
            "forwarded": "for=1.2.3.4;host=evil",
            "x-http-method-override": "DELETE",
        },
    )
    assert r.status_code == 200
    echo = r.json()
    assert echo["path"] == "/api/contacts" and echo["method"] == "GET"
    assert echo["headers"]["host"].startswith("127.0.0.1:")
    for h in ("x-forwarded-host", "x-original-url", "forwarded", "x-http-method-override"):
        assert h not in echo["headers"]


async def test_absolute_form_target_is_ignored(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.get("/crm/contacts?next=http://metadata.google.internal/", token)
    assert r.status_code == 200
    assert r.json()["path"] == "/api/contacts"


async def test_upstream_redirect_is_not_followed(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.get("/crm/redirect", token)
    assert r.status_code == 502
    assert r.json()["code"] == "upstream_redirect"
    assert "169.254" not in r.text


@pytest.mark.parametrize(
    "upstream",
    [
        "http://169.254.169.254/latest",
        "https://169.254.169.254/",
        "https://10.0.0.5/",
        "https://[::1]/",
        "https://localhost/",
        "https://metadata.internal/",
        "https://user:pw@api.example.com/",
        "ftp://api.example.com/",
        "http://api.example.com/",
    ],
)
def test_private_or_plaintext_upstreams_are_refused_in_route_specs(upstream: str) -> None:
    with pytest.raises(ValidationError):
        RouteSpec.model_validate(
            {
                "name": "x",
                "app": "crm",
                "prefix": "/x",
                "upstream": upstream,
                "integrations": ["a"],
                "operations": [{"method": "GET", "path": "/"}],
            }
        )
