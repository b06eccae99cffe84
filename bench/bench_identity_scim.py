"""SCIM lookup benchmark: the IdP's `userName eq` lookup, SQL-narrowed vs full in-memory scan.

Okta and Entra look up every user with ``filter=userName eq "..."`` before each create or
update, so a sync of N users costs N lookups. In one run, on one seeded store (N users with
the Enterprise extension, 2 emails each), it measures ``GET /scim/v2/Users?filter=userName eq``
through the whole stack (auth, SearchRequest validation, filter, serialisation):
1. ``narrowed``: our server (equality answered by the indexed ``user_name_key`` first);
2. ``naive scan`` reference: the same server with SQL narrowing and the validated-resource
   cache off, i.e. every user validated as a scim2-models resource and matched in memory;
3. a ``co`` filter (always a scan) with the cache warm.
Prints p50/p99 and the ratios.

Run: ``.venv/bin/python bench/bench_identity_scim.py [--users N] [--rounds N]``
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from fastapi.testclient import TestClient
from sqlalchemy import insert

from ringfence.api.app import create_app
from ringfence.core.config import load_settings
from ringfence.core.ids import new_id
from ringfence.identity.models import ScimUser
from ringfence.identity.scim import ScimService, ScimTokens
from ringfence.runtime import Runtime, initialise
from ringfence.store.models import Person

ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def seed(rt: Runtime, n: int) -> None:
    now = datetime.now(UTC)
    people, scim = [], []
    for i in range(n):
        pid = new_id()
        email = f"user{i:06d}@example.com"
        people.append(
            {
                "id": pid,
                "email": email,
                "name": f"User {i}",
                "active": True,
                "external_id": f"ext-{i}",
                "created_at": now,
                "updated_at": now,
            }
        )
        doc = {
            "schemas": [USER, ENT],
            "userName": email,
            "name": {"givenName": "User", "familyName": str(i)},
            "emails": [
                {"value": email, "type": "work", "primary": True},
                {"value": f"home{i}@example.org", "type": "home"},
            ],
            "active": True,
            ENT: {"department": f"dept-{i % 20}", "employeeNumber": str(i)},
        }
        scim.append(
            {
                "id": pid,
                "user_name_key": email,
                "document": doc,
                "version": 1,
                "service_account": False,
                "created_at": now,
                "updated_at": now,
            }
        )
    with rt.store.session() as s:
        s.execute(insert(Person), people)
        s.execute(insert(ScimUser), scim)


def timed(client: TestClient, params: dict[str, str], rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        resp = client.get("/scim/v2/Users", params=params)
        out.append((time.perf_counter() - t) * 1000)
        assert resp.status_code == 200, resp.text
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    os.environ.setdefault("RINGFENCE_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp))
        initialise(settings)
        rt = Runtime.open(settings)
        seed(rt, args.users)
        token = ScimTokens(rt.store, rt.clock).issue("bench").token.get_secret_value()
        client = TestClient(
            create_app(rt), base_url="https://rf", headers={"Authorization": f"Bearer {token}"}
        )
        target = f"user{args.users // 2:06d}@example.com"
        lookup = {"filter": f'userName eq "{target}"'}
        timed(client, lookup, 3)  # warm up
        narrowed = timed(client, lookup, args.rounds)
        scan_rounds = max(3, args.rounds // 5)
        co_filter = {"filter": 'userName co "00042"', "count": "10"}
        cached_scan = timed(client, co_filter, scan_rounds + 1)[1:]  # first round fills cache
        ScimService.narrow_in_sql = False
        ScimService.cache_resources = False
        scan = timed(client, lookup, scan_rounds)
        ScimService.narrow_in_sql = True
        ScimService.cache_resources = True
        rt.close()
    ratio = statistics.median(scan) / statistics.median(narrowed)
    print(
        f"machine: {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, {datetime.now(UTC):%Y-%m-%d}"
    )
    print(f"users: {args.users}")
    print(
        f"narrowed userName eq: p50 {statistics.median(narrowed):.1f} ms, "
        f"p99 {pct(narrowed, 0.99):.1f} ms ({args.rounds} rounds)"
    )
    naive = statistics.median(scan)
    print(
        f"naive scan reference: p50 {naive:.1f} ms, p99 {pct(scan, 0.99):.1f} ms "
        f"({scan_rounds} rounds; no SQL narrowing, no resource cache)"
    )
    print(f"userName co, cache warm: p50 {statistics.median(cached_scan):.1f} ms")
    print(f"ratio naive/narrowed (userName eq): {ratio:.1f}x")
    print(f"ratio naive/cached scan (co): {naive / statistics.median(cached_scan):.1f}x")


if __name__ == "__main__":
    main()
