"""Per-record cost of the control-plane audit chain: append (bulk, in one transaction, and
standalone, one transaction each) and verify, unkeyed (SHA-256) vs keyed (HMAC-SHA256).

    .venv/bin/python bench/bench_audit_chain.py [--old PATH_TO_OLD_audit.py] [--n 2000]

``--old`` loads a copy of the audit module from before keyed links (``git show
a29db85:src/ringfence/store/audit.py > /tmp/old_audit.py``) and times it on the same store
code, for the before/after comparison. SQLite in a temporary directory; no secret printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time
import timeit
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from ringfence.store import audit
from ringfence.store.db import Store
from ringfence.store.vault import MasterKey, Vault, write_key_file

RECORD = {
    "actor": "user:alice",
    "action": "integration.update",
    "entity_type": "integration",
    "entity_id": "hubspot-salesforce-sync",
    "before": {"status": "active", "scopes": ["crm.read", "crm.write"], "owner": "bob"},
    "after": {"status": "quarantined", "scopes": ["crm.read"], "owner": "bob"},
}


def _load_old(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location("old_audit", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["old_audit"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def _store(tmp: Path, name: str) -> Store:
    store = Store(f"sqlite:///{tmp / name}.db")
    store.migrate()
    return store


def _best(runs: list[float]) -> str:
    return f"median {statistics.median(runs):.1f} µs, min {min(runs):.1f} µs"


def bench_hash() -> None:
    ts = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    kwargs: dict[str, Any] = {
        "seq": 123456,
        "record_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "ts": ts,
        "prev_hash": "a" * 64,
        **{k: RECORD[k] for k in ("actor", "action", "entity_type", "entity_id")},
        "before": RECORD["before"],
        "after": RECORD["after"],
    }
    mac = os.urandom(32)
    n = 20000
    for label, extra in (
        ("sha256 (unkeyed)", {}),
        ("hmac (keyed)", {"key_id": "ab" * 8, "mac_key": mac}),
    ):
        runs = [
            timeit.timeit(lambda e=extra: audit.compute_hash(**kwargs, **e), number=n) / n * 1e6
            for _ in range(5)
        ]
        print(f"compute_hash {label:<18} {_best(runs)}")


def bench_append(mod: ModuleType, store: Store, n: int, label: str) -> None:
    # bulk: n records in one transaction (the head is read once: an `apply`)
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        with store.session() as s:
            for _ in range(n):
                mod.append(s, **RECORD)
        runs.append((time.perf_counter() - t0) / n * 1e6)
    print(f"append bulk       {label:<22} {_best(runs)} per record")
    runs = []
    for _ in range(3):
        k = max(n // 10, 50)
        t0 = time.perf_counter()
        for _ in range(k):
            mod.append_standalone(store, **RECORD)
        runs.append((time.perf_counter() - t0) / k * 1e6)
    print(f"append standalone {label:<22} {_best(runs)} per record (own transaction)")
    runs = []
    for _ in range(7):
        t0 = time.perf_counter()
        result = mod.verify(store)
        runs.append((time.perf_counter() - t0) / result.records * 1e6)
        assert result.ok
    print(f"verify            {label:<22} {_best(runs)} per record ({result.records} records)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", help="audit.py from before keyed links")
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()
    bench_hash()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if args.old:
            old = _load_old(args.old)
            store = _store(tmp, "old")
            bench_append(old, store, args.n, "before (old module)")
            store.dispose()
        store = _store(tmp, "unkeyed")
        bench_append(audit, store, args.n, "unkeyed (no key)")
        store.dispose()
        store = _store(tmp, "keyed")
        key_file = tmp / "master.key"
        write_key_file(key_file, MasterKey.generate())
        audit.use_keys(store, audit.MasterKeyAuditKeys(Vault(store, key_file), key_file=key_file))
        bench_append(audit, store, args.n, "keyed (HMAC)")
        store.dispose()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
