"""REST API list benchmark: eager-loaded pages vs the naive lazy-loading (N+1) reference.

One synthetic estate (seeded, reproducible) in a fresh store; in the same run it measures
1. ``api``: ``GET /api/v1/integrations?limit=500`` through the whole FastAPI stack (TestClient:
   auth, validation, repository, serialisation) — p50/p99 over the rounds;
2. ``repository``: ``InventoryRepository.list_page`` + response models, no HTTP;
3. ``naive`` reference: the same page and the same response models, but relationships loaded
   lazily (what the code does without ``joinedload``/``selectinload``): 1 + 4 queries per row;
4. ``walk``: every integration, page by page (limit 100) over HTTP, following ``next``.
Prints SQL statements per page and the naive/ours ratio.

Run: ``.venv/bin/python bench/bench_api.py [--integrations N] [--rounds N] [--store-url URL]``
(default: a temporary SQLite file; pass a PostgreSQL URL of an empty database to measure PG).
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from fastapi.testclient import TestClient
from sqlalchemy import event, insert, select

from ringfence.api import create_app
from ringfence.api.schemas import IntegrationOut
from ringfence.core.config import load_settings
from ringfence.core.ids import new_id
from ringfence.inventory.repository import IntegrationQuery, InventoryRepository
from ringfence.runtime import Runtime, initialise
from ringfence.store.apitokens import ApiTokens
from ringfence.store.models import App, Credential, Integration, Person, Vendor

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def build_estate(rt: Runtime, n_integrations: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    vendors = [{"id": new_id(), "name": f"vendor-{i:03d}"} for i in range(60)]
    people = [{"id": new_id(), "email": f"p{i}@corp.example", "name": f"P {i}"} for i in range(300)]
    apps = [
        {
            "id": new_id(),
            "name": f"app-{i:04d}",
            "vendor_id": rnd.choice(vendors)["id"],
            "owner_id": rnd.choice(people)["id"],
            "clearance": rnd.randint(0, 3),
        }
        for i in range(400)
    ]
    integrations, credentials = [], []
    for i in range(n_integrations):
        src, dst = rnd.sample(apps, 2)
        iid = new_id()
        integrations.append(
            {
                "id": iid,
                "name": f"int-{i:05d}",
                "source_app_id": src["id"],
                "destination_app_id": dst["id"],
                "owner_id": rnd.choice(people)["id"],
                "scopes": ["read", "write"],
                "data_classes": ["internal"],
            }
        )
        for k in range(2):
            credentials.append(
                {
                    "id": new_id(),
                    "name": f"cred-{i:05d}-{k}",
                    "kind": "api_key",
                    "integration_id": iid,
                    "ref": f"${{env:K{i}_{k}}}",
                }
            )
    stamp = {"created_at": NOW, "updated_at": NOW}
    with rt.store.session() as s:
        for model, rows in (
            (Vendor, vendors),
            (Person, people),
            (App, apps),
            (Integration, integrations),
            (Credential, credentials),
        ):
            s.execute(insert(model), [{**r, **stamp} for r in rows])


def naive_page(rt: Runtime, limit: int) -> list[IntegrationOut]:
    """Reference: same page, same models, relationships lazy-loaded one row at a time."""
    with rt.store.session() as s:
        rows = s.scalars(select(Integration).order_by(Integration.name).limit(limit))
        return [IntegrationOut.model_validate(r) for r in rows]


def ours_page(rt: Runtime, limit: int) -> list[IntegrationOut]:
    with rt.store.session() as s:
        repo = InventoryRepository(s, actor="bench")
        page = repo.list_page("integration", IntegrationQuery(limit=limit))
        return [IntegrationOut.model_validate(r) for r in page.items]


def timed(fn: Callable[[], Any], rounds: int) -> tuple[float, float]:
    fn()  # warm caches (compiled statements, pydantic validators)
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    return statistics.median(samples), p99


def count_statements(rt: Runtime, fn: Callable[[], Any]) -> int:
    n = 0

    def bump(*_: Any) -> None:
        nonlocal n
        n += 1

    event.listen(rt.store.engine, "before_cursor_execute", bump)
    try:
        fn()
    finally:
        event.remove(rt.store.engine, "before_cursor_execute", bump)
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--integrations", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--limit", type=int, default=500)
    ap.add_argument("--store-url", default=None)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="rf-bench-api-"))
    os.environ.setdefault("RINGFENCE_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    kwargs: dict[str, Any] = {"data_dir": tmp}
    if args.store_url:
        kwargs["store_url"] = args.store_url
    settings = load_settings(**kwargs)
    initialise(settings)
    rt = Runtime.open(settings)
    try:
        t0 = time.perf_counter()
        build_estate(rt, args.integrations)
        print(
            f"estate: {args.integrations} integrations, {2 * args.integrations} credentials, "
            f"400 apps, 60 vendors, 300 people on {rt.store.dialect} "
            f"(built in {time.perf_counter() - t0:.1f}s)"
        )
        token = ApiTokens(rt.store).issue("bench", ["read"], 1).token.get_secret_value()
        client = TestClient(create_app(rt))
        headers = {"Authorization": f"Bearer {token}"}
        url = f"/api/v1/integrations?limit={args.limit}"
        assert client.get(url, headers=headers).status_code == 200
        assert [o.name for o in naive_page(rt, args.limit)] == [
            o.name for o in ours_page(rt, args.limit)
        ]

        def api() -> None:
            r = client.get(url, headers=headers)
            assert r.status_code == 200

        def walk() -> int:
            n, nxt = 0, "/api/v1/integrations?limit=100"
            while nxt:
                body = client.get(nxt, headers=headers).json()
                n += len(body["items"])
                nxt = body["next"]
            assert n == args.integrations
            return n

        rows = [
            ("api (HTTP, eager)", api),
            ("repository (eager)", lambda: ours_page(rt, args.limit)),
            ("naive (lazy, N+1)", lambda: naive_page(rt, args.limit)),
        ]
        print(f"\npage of {args.limit} integrations, {args.rounds} rounds")
        print(f"{'variant':<22}{'p50 ms':>10}{'p99 ms':>10}{'SQL stmts':>11}")
        results: dict[str, float] = {}
        for name, fn in rows:
            p50, p99 = timed(fn, args.rounds)
            stmts = count_statements(rt, fn)
            results[name] = p50
            print(f"{name:<22}{p50 * 1e3:>10.1f}{p99 * 1e3:>10.1f}{stmts:>11}")
        ratio = results["naive (lazy, N+1)"] / results["repository (eager)"]
        print(f"\nratio naive / repository (eager): {ratio:.1f}x")
        t0 = time.perf_counter()
        walk()
        print(
            f"walk all {args.integrations} integrations over HTTP (limit 100, following next): "
            f"{time.perf_counter() - t0:.2f}s"
        )
        print(
            f"\nmachine: {os.cpu_count()} cores, {platform.python_implementation()} "
            f"{platform.python_version()}, {datetime.now(UTC):%Y-%m-%d}"
        )
    finally:
        rt.close()


if __name__ == "__main__":
    main()
