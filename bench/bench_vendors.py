"""Vendor-risk benchmark: scoring every vendor of a synthetic estate from the store.

Measures in one run (seeded, reproducible), best of 3:

1. ``vendor_risk``: gather exposure + evidence from SQLite and score every vendor (what the
   console list, ``ringfence vendors list`` and posture call).
2. reference ``per-vendor``: the same result vendor by vendor (``assess_vendor``: a handful
   of queries each) — what the bulk path saves.
3. reference ``score only``: the pure scoring function over pre-gathered inputs — the floor;
   the ratio is the price of reading the store.

Times are process CPU time (best of 3), so other processes on a shared machine do not skew the
ratios. Run: ``.venv/bin/python bench/bench_vendors.py [--vendors N]``
"""

from __future__ import annotations

import argparse
import platform
import random
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from ringfence.core.clock import FixedClock
from ringfence.store.db import Store
from ringfence.store.models import App, DataFlow, FlowOrigin, Integration, Vendor
from ringfence.vendors.models import (
    Certification,
    CertKind,
    Contract,
    Pentest,
    PentestFinding,
    Severity,
    Tier,
    VendorProfile,
)
from ringfence.vendors.scoring import Controls, Exposure, assess_vendor, score, vendor_risk

CLASSES = ["public", "internal", "confidential", "restricted"]


def build(store: Store, n: int, rng: random.Random) -> None:
    with store.session() as s:
        home = Vendor(name="Home")
        s.add(home)
        s.flush()
        hub = App(name="Hub", vendor_id=home.id)
        s.add(hub)
        s.flush()
        for i in range(n):
            v = Vendor(name=f"Vendor {i:05d}")
            s.add(v)
            s.flush()
            s.add(VendorProfile(vendor_id=v.id, tier=rng.choice(list(Tier))))
            apps = [App(name=f"App {i}-{k}", vendor_id=v.id) for k in range(2)]
            s.add_all(apps)
            s.flush()
            for k in range(3):
                integ = Integration(
                    name=f"int-{i}-{k}",
                    source_app_id=hub.id,
                    destination_app_id=apps[k % 2].id,
                    scopes=[f"scope.{j}" for j in range(rng.randint(1, 6))],
                    data_classes=[rng.choice(CLASSES)],
                )
                s.add(integ)
            s.add(
                DataFlow(
                    name=f"flow-{i}",
                    source_app_id=hub.id,
                    destination_app_id=apps[0].id,
                    data_classes=[rng.choice(CLASSES)],
                    origin=rng.choice(list(FlowOrigin)),
                )
            )
            s.add(
                Certification(
                    vendor_id=v.id,
                    kind=CertKind.ISO27001,
                    expires_on=date(2026, 1, 1) + timedelta(days=rng.randint(-200, 400)),
                )
            )
            s.add(Contract(vendor_id=v.id, name="MSA", clauses={"dpa": rng.random() < 0.7}))
            p = Pentest(vendor_id=v.id, name="pt", performed_on=date(2025, 10, 1))
            p.findings = [
                PentestFinding(ref=f"F{j}", title="x", severity=rng.choice(list(Severity)))
                for j in range(rng.randint(0, 3))
            ]
            s.add(p)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vendors", type=int, default=300)
    args = ap.parse_args()
    rng = random.Random(7)
    clock = FixedClock()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'bench.db'}")
        store.migrate()
        build(store, args.vendors, rng)
        best = float("inf")
        for _ in range(3):
            t0 = time.process_time()
            with store.session() as s:
                risks = vendor_risk(s, clock)
            best = min(best, time.process_time() - t0)
        # Reference 1: the per-vendor path (a handful of queries for each vendor).
        per_vendor = float("inf")
        for _ in range(3):
            t0 = time.process_time()
            with store.session() as s:
                inputs = [(assess_vendor(s, v, clock), v) for v in s.query(Vendor)]
            per_vendor = min(per_vendor, time.process_time() - t0)
        # Reference 2: the pure score over inputs gathered once (the floor).
        exps = [
            (Exposure(r.highest_data_class, 1, frozenset(), 3, r.tier), Controls())
            for r, _ in inputs
        ]
        ref = float("inf")
        for _ in range(3):
            t0 = time.process_time()
            for e, c in exps:
                score(e, c)
            ref = min(ref, time.process_time() - t0)
        store.dispose()
    n = len(risks)
    print(f"machine: {platform.machine()} {platform.python_version()}, vendors: {n}")
    print(
        f"vendor_risk (store + score): {best * 1000:.1f} ms total, {best / n * 1000:.2f} ms/vendor"
    )
    print(
        f"reference per-vendor queries: {per_vendor * 1000:.1f} ms total, "
        f"{per_vendor / n * 1000:.2f} ms/vendor"
    )
    print(f"reference score only:        {ref * 1000:.1f} ms total, {ref / n * 1e6:.1f} µs/vendor")
    print(f"bulk vs per-vendor: {per_vendor / best:.1f}x faster")
    print(f"bulk vs score only: {best / ref:.0f}x the cost (the price of reading the store)")


if __name__ == "__main__":
    main()
