"""Benchmark of the classification engine against references measured in the same run.

Workloads: 4 KiB JSON payloads (the gateway's per-request case), a 1 MiB JSON document and a
1 MiB text document, all generated from the seeded synthetic corpus. References:
  * ``orjson.loads`` alone: the floor (parsing without any detection);
  * a naive loop running every detector's Python ``re`` pattern + validator over the raw text
    (no prefilter, no field paths): what a straightforward implementation costs;
  * the same engine with the RE2-set prefilter instead of Hyperscan.
Prints MB/s, µs/KiB, p50/p99 latency and ratios; ``--accuracy`` prints the per-type table.
Every round starts with cold value caches (:func:`forget_values`): the phone validator
remembers the numbers it parsed, and repeating the same payloads would otherwise time cache
hits instead of validation.

``--baseline REV`` also loads ``src/ringfence/classify/_engine.py`` as of git revision REV next
to the current one and prints an interleaved before/after table (same process, same payloads).

Usage: python bench/bench_classify.py [--accuracy] [--rounds N] [--baseline REV]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import orjson
from tests.classify.corpus import clean_payload, corpus, evaluate, payload, typical_payload

from ringfence.classify import BUILTIN_DETECTORS, Classifier


def forget_values() -> None:
    """Empty the caches keyed by matched values (phone numbers) so a round sees them fresh."""
    from ringfence.classify import _validators

    clear = getattr(getattr(_validators, "_phone_parse", None), "cache_clear", None)
    if clear is not None:
        clear()


def naive_scanner() -> Callable[[bytes, str], int]:
    compiled = [
        (re.compile(d.pattern, re.ASCII | (re.I if d.caseless else 0)), d)
        for d in BUILTIN_DETECTORS
        if d.id != "generic_secret_field"
    ]

    def scan(body: bytes, content_type: str) -> int:
        text = body.decode("utf-8", "replace")
        n = 0
        for rx, d in compiled:
            for m in rx.finditer(text):
                if d.validator is None or d.validator(m.group(0)):
                    n += 1
        return n

    return scan


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def run_small(
    name: str, fn: Callable[[bytes, str], Any], bodies: list[bytes], rounds: int
) -> dict[str, Any]:
    """CPU time per payload (robust on a shared machine) and wall-clock p50/p99 latency."""
    wall: list[float] = []
    best_cpu = float("inf")
    for _ in range(rounds):
        forget_values()
        c0 = time.process_time()
        for b in bodies:
            t = time.perf_counter()
            fn(b, "application/json")
            wall.append(time.perf_counter() - t)
        best_cpu = min(best_cpu, time.process_time() - c0)
    nbytes = sum(len(b) for b in bodies)
    return {
        "name": name,
        "mbps": nbytes / best_cpu / 1e6,
        "us_per_kib": best_cpu / (nbytes / 1024) * 1e6,
        "p50_ms": pct(wall, 50) * 1e3,
        "p99_ms": pct(wall, 99) * 1e3,
    }


def run_big(
    name: str, fn: Callable[[bytes, str], Any], body: bytes, ctype: str, rounds: int
) -> dict[str, Any]:
    best = float("inf")
    for _ in range(rounds):
        forget_values()
        c0 = time.process_time()
        fn(body, ctype)
        best = min(best, time.process_time() - c0)
    return {"name": name, "mbps": len(body) / best / 1e6, "ms": best * 1e3}


def baseline(rev: str, rounds: int) -> None:
    """Interleaved A/B: the engine module at ``rev`` against the working tree's."""
    import importlib.util
    import subprocess
    import tempfile

    root = os.path.join(os.path.dirname(__file__), "..")
    src = subprocess.run(
        ["git", "show", f"{rev}:src/ringfence/classify/_engine.py"],
        cwd=root,
        check=True,
        capture_output=True,
    ).stdout
    with tempfile.NamedTemporaryFile("wb", suffix=".py", delete=False) as f:
        f.write(src)
    name = "ringfence.classify._engine_baseline"
    spec = importlib.util.spec_from_file_location(name, f.name)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    os.unlink(f.name)
    engines = {"before": mod.Classifier(), "after": Classifier()}
    workloads = {
        "4 KiB typical": [typical_payload(i) for i in range(100)],
        "4 KiB dense": [payload(4096, seed=i) for i in range(100)],
        "1 MiB typical JSON": [typical_payload(99, size=1 << 20)],
        "1 MiB dense JSON": [payload(1 << 20, seed=99)],
    }
    print(f"# before ({rev}) / after, CPU time, best of {max(rounds, 2)} interleaved rounds\n")
    print("| workload | before µs/KiB | after µs/KiB | speedup |")
    print("|---|---:|---:|---:|")
    for label, bodies in workloads.items():
        n = sum(map(len, bodies))
        best = dict.fromkeys(engines, float("inf"))
        for _ in range(max(rounds, 2)):
            for key, clf in engines.items():
                forget_values()
                c0 = time.process_time()
                for b in bodies:
                    clf.scan(b, "application/json")
                best[key] = min(best[key], time.process_time() - c0)
        us = {k: v / (n / 1024) * 1e6 for k, v in best.items()}
        print(
            f"| {label} | {us['before']:.1f} | {us['after']:.1f} | "
            f"{us['before'] / us['after']:.2f}x |"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--accuracy", action="store_true")
    ap.add_argument("--baseline", metavar="REV", help="git revision of the engine to compare")
    args = ap.parse_args()
    if args.baseline:
        baseline(args.baseline, args.rounds)
        return

    t0 = time.perf_counter()
    hs = Classifier()
    t_hs = time.perf_counter() - t0
    t0 = time.perf_counter()
    r2 = Classifier(engine="re2")
    t_r2 = time.perf_counter() - t0
    naive = naive_scanner()

    workloads = {
        "typical (CRM contacts page)": [typical_payload(i) for i in range(100)],
        "dense (PII-heavy records + hard negatives)": [payload(4096, seed=i) for i in range(100)],
        "clean (no personal data)": [clean_payload(i) for i in range(100)],
    }
    big_json = payload(1 << 20, seed=99)
    big_typical = typical_payload(99, size=1 << 20)
    big_text = b"\n".join(
        line for b in workloads["dense (PII-heavy records + hard negatives)"] for line in [b]
    )
    while len(big_text) < (1 << 20):
        big_text += b"\n" + big_text
    big_text = big_text[: 1 << 20]

    print(f"# ringfence.classify benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"machine: {platform.machine()} cpus={os.cpu_count()} python={platform.python_version()} "
        f"load1={os.getloadavg()[0]:.1f} (throughput from process CPU time; p50/p99 wall clock)"
    )
    print(
        f"compile: hyperscan engine {t_hs * 1e3:.0f} ms, re2-set engine {t_r2 * 1e3:.0f} ms; "
        f"{len(hs.detectors)} detectors\n"
    )
    ratios: dict[str, float] = {}
    for label, bodies in workloads.items():
        avg = sum(map(len, bodies)) // len(bodies)
        rows = [
            run_small(
                "orjson.loads only (floor)", lambda b, c: orjson.loads(b), bodies, args.rounds
            ),
            run_small(f"ringfence ({hs.engine})", hs.scan, bodies, args.rounds),
            run_small(f"ringfence ({r2.engine})", r2.scan, bodies, args.rounds),
            run_small("naive per-pattern re loop", naive, bodies, 1),
        ]
        print(f"## 4 KiB JSON, {label}: {len(bodies)} payloads, avg {avg} B\n")
        print("| engine | MB/s per core | µs/KiB | p50 ms | p99 ms |")
        print("|---|---:|---:|---:|---:|")
        for r in rows:
            print(
                f"| {r['name']} | {r['mbps']:.1f} | {r['us_per_kib']:.1f} | "
                f"{r['p50_ms']:.3f} | {r['p99_ms']:.3f} |"
            )
        ratios[label] = rows[1]["mbps"] / rows[3]["mbps"]
        print(
            f"\nringfence vs naive re loop: {ratios[label]:.1f}x faster; "
            f"vs bare orjson parse: {rows[1]['us_per_kib'] / rows[0]['us_per_kib']:.1f}x the cost\n"
        )

    big = [
        run_big(
            "orjson.loads only, dense JSON",
            lambda b, c: orjson.loads(b),
            big_json,
            "application/json",
            3,
        ),
        run_big(f"ringfence ({hs.engine}), dense JSON", hs.scan, big_json, "application/json", 3),
        run_big(
            f"ringfence ({hs.engine}), typical JSON", hs.scan, big_typical, "application/json", 3
        ),
        run_big(f"ringfence ({r2.engine}), dense JSON", r2.scan, big_json, "application/json", 3),
        run_big("naive re loop, dense JSON", naive, big_json, "application/json", 1),
        run_big(f"ringfence ({hs.engine}), dense text", hs.scan, big_text, "text/plain", 3),
        run_big("naive re loop, dense text", naive, big_text, "text/plain", 1),
    ]
    print("## 1 MiB documents\n")
    print("| workload | MB/s per core | ms |")
    print("|---|---:|---:|")
    for r in big:
        print(f"| {r['name']} | {r['mbps']:.2f} | {r['ms']:.0f} |")
    print(
        f"\nringfence vs naive re loop, 1 MiB dense JSON: {big[1]['mbps'] / big[4]['mbps']:.1f}x; "
        f"1 MiB dense text: {big[5]['mbps'] / big[6]['mbps']:.1f}x"
    )

    if args.accuracy:
        recs = corpus(600, seed=20261126)
        scores = evaluate(hs.scan, recs)
        print(f"\n## accuracy on {len(recs)} synthetic records (seed 20261126)\n")
        print("| type | TP | FP | FN | precision | recall | F1 |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for t in sorted(scores, key=lambda k: (k != "*", k)):
            s = scores[t]
            name = "**overall**" if t == "*" else f"`{t}`"
            print(
                f"| {name} | {s.tp} | {s.fp} | {s.fn} | {s.precision:.3f} | {s.recall:.3f} "
                f"| {s.f1:.3f} |"
            )


if __name__ == "__main__":
    main()
