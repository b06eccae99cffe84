"""API9:2023 Improper Inventory Management — only declared, current operations are served."""

from __future__ import annotations

from tests.gateway.conftest import Env


async def test_deprecated_version_is_gone(env: Env) -> None:
    token = await env.token(env.a)
    r = await env.get("/crm/v1/contacts", token)
    assert r.status_code == 410
    assert r.json()["code"] == "deprecated"


async def test_undeclared_debug_paths_are_404(env: Env) -> None:
    token = await env.token(env.a)
    for path in ("/crm/debug", "/debug", "/crm/contacts/1/admin", "/crm/v2/contacts", "/crm"):
        r = await env.get(path, token)
        assert r.status_code == 404, path


async def test_unauthenticated_probe_of_undeclared_path_leaks_nothing(env: Env) -> None:
    r = await env.http.get("/crm/internal/swagger.json")
    assert r.status_code == 404
    assert r.json()["detail"] == "no operation for this path"
