"""Review 9: the push API keeps one monitor, so windows span pushes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import orjson
import pytest
from fastapi.testclient import TestClient

from ringfence.api import create_app
from ringfence.monitor.api import _app_monitor
from ringfence.runtime import Runtime
from ringfence.store.apitokens import ApiTokens
from tests.monitor import records as R

URL = "/api/v1/monitor/ingest/ringfence"


@pytest.fixture
def client(runtime: Runtime) -> Iterator[tuple[TestClient, dict[str, str]]]:
    token = ApiTokens(runtime.store, runtime.clock).issue("shipper", ["read", "write"], 30)
    headers = {
        "Authorization": f"Bearer {token.token.get_secret_value()}",
        "Content-Type": "application/json",
    }
    with TestClient(create_app(runtime), raise_server_exceptions=False) as c:
        yield c, headers


def _refusals(runtime: Runtime, start: int, n: int) -> bytes:
    t0 = runtime.clock.now() - timedelta(minutes=5)
    recs = [
        R.gateway(
            401,
            request_id=f"split-{i}",
            time=(t0 + timedelta(seconds=i)).isoformat(),
            client_ip="192.0.2.99",
            route="r-split",
        )
        for i in range(start, start + n)
    ]
    return b"\n".join(orjson.dumps(r) for r in recs) + b"\n"


def test_a_burst_split_over_three_pushes_still_alerts(client: tuple, runtime: Runtime) -> None:
    c, headers = client
    for part in range(3):
        r = c.post(URL, content=_refusals(runtime, 12 * part, 12), headers=headers)
        assert r.status_code == 200 and r.json()["new"] == 12, r.text
    alerts = c.get("/api/v1/monitor/alerts", headers=headers).json()
    rules = {a["finding_info"]["analytic"]["uid"] for a in alerts}
    assert "apimon:auth_burst" in rules
    assert "rf_gateway_auth_burst" in rules


def test_the_monitor_is_built_once_under_concurrent_first_pushes(runtime: Runtime) -> None:
    class State:
        pass

    state = State()
    got: list[object] = []
    barrier = threading.Barrier(4)

    def first_push() -> None:
        barrier.wait()
        got.append(_app_monitor(state, runtime))

    threads = [threading.Thread(target=first_push) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4 and all(m is got[0] for m in got)
