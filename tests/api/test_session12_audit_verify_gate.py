"""Session 12 API authz review (API4): audit chain verifications do not pile up.

Before, every ``GET /api/v1/audit/verify`` (any ``read`` caller) read and hashed the whole
chain in a thread of the shared pool — ~60 µs a record here, a minute for a million — with no
bound on how many ran at once: a few dozen concurrent calls held every worker thread and the
rest of the API stalled. Now one runs per process; another waits a few seconds, then gets 503
problem+json ``audit_verify_busy`` with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx
import pytest

from ringfence.api import audit as audit_api
from ringfence.api import create_app
from ringfence.store import audit as chain
from tests.api.conftest import Api


class SlowVerify:
    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()
        self._verify = chain.verify

    def __call__(self, *args: Any, **kw: Any) -> Any:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(0.5)
            return self._verify(*args, **kw)
        finally:
            with self._lock:
                self.running -= 1


@pytest.fixture
def slow(monkeypatch: pytest.MonkeyPatch) -> SlowVerify:
    s = SlowVerify()
    monkeypatch.setattr(chain, "verify", s)
    monkeypatch.setattr(audit_api, "VERIFY_QUEUE_WAIT", 0.1, raising=False)
    return s


async def test_concurrent_verifications_run_one_at_a_time(api: Api, slow: SlowVerify) -> None:
    app = create_app(api.runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ringfence.test") as c:
        answers = await asyncio.gather(
            *(c.get("/api/v1/audit/verify", headers=api.ro) for _ in range(4))
        )
    codes = sorted(r.status_code for r in answers)
    assert slow.most == 1, codes
    busy = [r for r in answers if r.status_code == 503]
    assert codes.count(200) >= 1 and busy, codes
    assert busy[0].headers["content-type"] == "application/problem+json"
    assert busy[0].json()["code"] == "audit_verify_busy"
    assert busy[0].headers["retry-after"] == str(audit_api.VERIFY_RETRY_AFTER)
    async with httpx.AsyncClient(transport=transport, base_url="http://ringfence.test") as c:
        again = await c.get("/api/v1/audit/verify", headers=api.ro)  # the slot is free again
    assert again.status_code == 200 and again.json()["ok"] is True
