"""bench/dlp_callgrind: instructions per DLP page under callgrind (load-independent).

The wall-clock benchmark (``bench/dlp.py``) moves by ±20 % with the load of a shared machine;
instruction counts do not. This runs one process under ``valgrind --tool=callgrind`` twice —
with N pages and with 0 pages — and reports (Ir(N) - Ir(0)) / N: what one page costs with a
warm classifier (compiled, every region's numbering plan it needs loaded, key caches filled by
a warm-up over the same pages) and a cold phone cache (emptied before the measured pages, as every
``bench/dlp.py`` round does). Pages come from ``tests/classify/corpus.py``, seeds 0..N-1 (the
first N of the bench's 100).

``--gate`` measures ``Classifier.may_find`` instead of ``scan`` (the raw-body gate the gateway
asks first of every body; clean pages by default), each page asked ``GATE_ROUNDS`` times so the
small per-call count stands above the process's noise.

Usage:
    python bench/dlp_callgrind.py [--kind typical|dense|clean|mib] [--pages N] [--keep DIR]
                                  [--root TREE] [--gate] [--scans-only]
    python bench/dlp_callgrind.py --inner KIND N BUILT  (internal: the process valgrind runs)

``--scans-only`` counts only the instructions inside the measured ``scan`` calls (callgrind
starts with collection off and toggles it on entry to and exit from ``functools.reduce``,
which the inner process wraps around those calls and nothing else calls): one run instead of
two, and no difference of two whole processes (whose start-up, compile and exit costs move by
a few hundred thousand instructions between runs). ``--kind mib`` is bench/dlp.py's 1 MiB
typical JSON document (one scan after one warm-up scan; the GC's full collections fall where
they fall, so repeat it with ``--pages 3`` to average them).

``--root TREE`` measures another tree (e.g. ``git archive REV src tests`` unpacked, with its
native extension built or copied in place). ``--keep DIR`` leaves both profiles in DIR
(callgrind.out.<kind> and .base) for ``callgrind_annotate``: their difference is the pages.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _pages(kind: str, seeds: range) -> list[bytes]:
    from tests.classify.corpus import clean_payload, payload, typical_payload

    if kind == "typical":
        return [typical_payload(i) for i in seeds]
    if kind == "dense":
        return [payload(4096, seed=i) for i in seeds]
    if kind == "mib":  # one document, scanned len(seeds) times (made once, outside valgrind)
        path = os.environ.get("RF_DLP_MIB", "")
        if path:
            with open(path, "rb") as f:
                return [f.read()] * len(seeds)
        return [typical_payload(99, size=1 << 20)] * len(seeds)
    return [clean_payload(i) for i in seeds]


GATE_ROUNDS = 10


def inner(root: str, kind: str, n: int, built: int) -> None:
    sys.path[:0] = [os.path.join(root, "src"), root]
    from ringfence.classify import Classifier, _validators

    clf = Classifier()
    if kind.startswith("gate-"):
        bodies = _pages(kind[5:], range(built))
        for body in bodies:
            clf.may_find(body)
        for _ in range(GATE_ROUNDS):
            for body in bodies[:n]:
                clf.may_find(body)
        return
    # Both runs build the same pages (generating them costs more than scanning them) and
    # scan them all once: the warm-up compiles what the pages need and loads their regions'
    # numbering plans (as bench/dlp.py's best round follows its first). Then only the phone
    # cache is cold for the measured pages.
    pages = _pages(kind, range(built))
    for body in pages[:1] if kind == "mib" else pages:
        clf.scan(body, "application/json")
    _validators._phone_parse.cache_clear()
    # (--scans-only: collection is on inside functools.reduce only, i.e. in these scans)
    functools.reduce(lambda _, body: clf.scan(body, "application/json"), pages[:n], None)


def start(
    root: str, kind: str, n: int, built: int, out: str, scans_only: bool = False
) -> subprocess.Popen[bytes]:
    """``kind``: a page kind, or ``gate-<kind>`` for may_find on those pages."""
    only = ["--collect-atstart=no", "--toggle-collect=functools_reduce"] if scans_only else []
    cmd = [
        "valgrind",
        "--tool=callgrind",
        *only,
        f"--callgrind-out-file={out}",
        sys.executable,
        os.path.abspath(__file__),
        "--root",
        root,
        "--inner",
        kind,
        str(n),
        str(built),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def total(proc: subprocess.Popen[bytes], out: str) -> int:
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"callgrind run failed:\n{err.decode()[-2000:]}")
    with open(out) as f:
        for line in f:
            m = re.match(r"(?:summary|totals): (\d+)", line)
            if m:
                return int(m.group(1))
    m = re.search(r"Collected : (\d+)", err.decode())  # --scans-only: callgrind's own count
    if m:
        return int(m.group(1))
    raise SystemExit(f"no totals in {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--kind", choices=("typical", "dense", "clean", "mib"), default=None)
    ap.add_argument("--pages", type=int, default=30)
    ap.add_argument("--keep", help="directory for the N-page callgrind profile")
    ap.add_argument("--root", default=ROOT, help="tree to measure (its src/ and tests/)")
    ap.add_argument("--gate", action="store_true", help="measure may_find, not scan")
    ap.add_argument(
        "--scans-only", action="store_true", help="count only inside the measured scan calls"
    )
    ap.add_argument("--inner", nargs=3, metavar=("KIND", "N", "BUILT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inner:
        inner(args.root, args.inner[0], int(args.inner[1]), int(args.inner[2]))
        return
    kind = args.kind or ("clean" if args.gate else "typical")
    run = f"gate-{kind}" if args.gate else kind
    with tempfile.TemporaryDirectory() as tmp:
        keep = args.keep or tmp
        os.makedirs(keep, exist_ok=True)
        outs = (
            os.path.join(keep, f"callgrind.out.{run}"),
            os.path.join(keep, f"callgrind.out.{run}.base"),
        )
        if kind == "mib":
            sys.path[:0] = [os.path.join(args.root, "src"), args.root]
            os.environ.pop("RF_DLP_MIB", None)
            body = _pages("mib", range(1))[0]
            os.environ["RF_DLP_MIB"] = doc = os.path.join(tmp, "mib.json")
            with open(doc, "wb") as f:
                f.write(body)
        if args.scans_only and not args.gate:
            full, base = (
                total(start(args.root, run, args.pages, args.pages, outs[0], True), outs[0]),
                0,
            )
        else:
            # one valgrind at a time (the machine is shared; the counts do not depend on it)
            full, base = (
                total(start(args.root, run, n, args.pages, o), o)
                for n, o in zip((args.pages, 0), outs, strict=True)
            )
    if args.gate:
        per = (full - base) / (args.pages * GATE_ROUNDS)
        print(f"may_find on {kind} pages: {per:,.0f} instructions per call ({args.pages} pages)")
        return
    per = (full - base) / args.pages
    what = "document" if kind == "mib" else "page"
    only = ", scan calls only" if args.scans_only else ""
    print(f"{kind}: {per:,.0f} instructions per {what} ({args.pages} x, cold phone cache{only})")


if __name__ == "__main__":
    main()
