"""API4:2023 Unrestricted Resource Consumption — body, depth, array caps and rate limits."""

from __future__ import annotations

from tests.gateway.conftest import Env


async def _post(env: Env, path: str, content: bytes, ctype: str = "application/json") -> int:
    token = await env.token(env.a)
    r = await env.http.post(
        path, content=content, headers={"authorization": f"Bearer {token}", "content-type": ctype}
    )
    return r.status_code


async def test_ten_megabyte_body_is_413(env: Env) -> None:
    body = b'{"name":"' + b"a" * (10 * 1024 * 1024) + b'"}'
    assert await _post(env, "/crm/contacts", body) == 413


async def test_chunked_oversized_body_is_413(env: Env) -> None:
    token = await env.token(env.a)

    async def gen():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"a" * 100_000

    r = await env.http.post(
        "/crm/contacts",
        content=gen(),
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    assert r.status_code == 413


async def test_json_nested_ten_thousand_deep_is_400(env: Env) -> None:
    body = b"[" * 10_000 + b"]" * 10_000
    token = await env.token(env.a)
    r = await env.http.post(
        "/crm/contacts",
        content=body,
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["code"] == "too_deep"


async def test_huge_array_is_400(env: Env) -> None:
    body = b'{"name":"x","email":[' + b",".join([b"1"] * 20_000) + b"]}"
    token = await env.token(env.a)
    r = await env.http.post(
        "/crm/contacts",
        content=body,
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["code"] == "too_many_items"


async def test_rate_limit_answers_429_with_headers(env: Env) -> None:
    token = await env.token(env.a)
    statuses = []
    last = None
    for _ in range(7):
        last = await env.http.post(
            "/crm-r/notes", json={"text": "hi"}, headers={"authorization": f"Bearer {token}"}
        )
        statuses.append(last.status_code)
    assert statuses == [200] * 5 + [429] * 2
    assert last is not None
    assert int(last.headers["retry-after"]) >= 1
    assert last.headers["ratelimit-limit"] == "5"
    assert last.headers["ratelimit-remaining"] == "0"
    assert env.audit.events[-1].reason == "rate_limited"
