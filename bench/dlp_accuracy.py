"""Write docs/dlp-accuracy.md from the DLP accuracy harness (precision, recall, F1 per type).

Runs the built-in classifier over the seeded corpus of ``tests/classify/corpus.py`` (two seeds)
and renders the report with ``tests/classify/accuracy_report.py``. Deterministic: rerunning it
without changing the detectors or the generator rewrites the same file.

Usage: python bench/dlp_accuracy.py [--check] [--out docs/dlp-accuracy.md]
"""

from __future__ import annotations

import argparse
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from tests.classify.accuracy_report import (  # noqa: E402
    DOC_PATH,
    MAIN_SEED,
    MAIN_SIZE,
    SECOND_SEED,
    SECOND_SIZE,
    render,
)
from tests.classify.corpus import corpus, evaluate  # noqa: E402

from ringfence.classify import Classifier  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(ROOT, DOC_PATH))
    ap.add_argument("--check", action="store_true", help="exit 1 if the file is not current")
    args = ap.parse_args()
    clf = Classifier()
    main_recs, second_recs = corpus(MAIN_SIZE, MAIN_SEED), corpus(SECOND_SIZE, SECOND_SEED)
    text = render(
        evaluate(clf.scan, main_recs),
        evaluate(clf.scan, second_recs),
        len(main_recs),
        len(second_recs),
    )
    if args.check:
        with open(args.out, encoding="utf-8") as f:
            current = f.read() == text
        print("current" if current else f"{args.out} is stale: rerun bench/dlp_accuracy.py")
        return 0 if current else 1
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
