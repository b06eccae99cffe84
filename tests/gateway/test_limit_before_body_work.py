"""A client over its rate limit: the limiter's 429 comes first, a large body is neither
validated nor inspected for it, and the 429's audit record describes no inspection."""

from __future__ import annotations

from typing import Any

from tests.gateway.conftest import Env


class _Counting:
    """Wraps the gateway's inspector and counts the calls made to it."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.real, name)
        if not callable(attr):
            return attr

        def counted(*a: Any, **kw: Any) -> Any:
            self.calls += 1
            return attr(*a, **kw)

        return counted


async def _over_limit(env: Env, body: dict[str, Any]) -> tuple[list[tuple[int, int]], Any]:
    counting = _Counting(env.gateway.inspector)
    env.gateway.inspector = counting
    token = await env.token(env.a, "crm.write")
    headers = {"authorization": f"Bearer {token}"}
    seen = []
    for _ in range(7):  # crm-r allows 5 per minute
        counting.calls = 0
        r = await env.http.post("/crm-r/notes", headers=headers, json=body)
        seen.append((r.status_code, counting.calls))
    refused = [e for e in env.audit.events if e.status == 429]
    return seen, refused


async def test_a_large_body_over_the_limit_is_not_inspected(env: Env) -> None:
    body = {"note": "mail jane.doe@example.com " + "x" * 200_000}
    seen, refused = await _over_limit(env, body)
    assert [s for s, _ in seen] == [200] * 5 + [429] * 2
    assert all(calls > 0 for s, calls in seen if s == 200)
    assert [calls for s, calls in seen if s == 429] == [0, 0]
    assert len(refused) == 2 and all(e.dlp == {} for e in refused)


async def test_a_small_body_over_the_limit_gets_429_and_an_audit_without_dlp(env: Env) -> None:
    seen, refused = await _over_limit(env, {"note": "mail jane.doe@example.com"})
    assert [s for s, _ in seen] == [200] * 5 + [429] * 2
    assert len(refused) == 2
    for event in refused:
        assert event.reason == "rate_limited" and event.dlp == {}
