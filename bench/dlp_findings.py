"""bench/dlp_findings: one sha256 per workload over every finding the engine reports.

A speed change must not change a finding. This prints, per workload, a digest of every
finding (type, class, path, path parts, offsets, confidence as ``repr``, preview), the
payload's class and content kind — for the bench's typical, dense (as JSON and as text) and
clean pages, its 1 MiB typical and dense documents, both accuracy corpora, and phone numbers
(every region's example numbers of every type, as E.164, international and national text,
and digit mutations of each). Run it
before and after a change (``--root`` measures another tree, e.g. a ``git archive``) and
compare the lines; ``--native 0`` runs the pure-Python path (its digests must equal the
native path's too).

Each workload is scanned twice in a fresh process with the phone cache emptied in between,
so first-use work (tables built lazily, caches filled) cannot hide a difference.

Usage: python bench/dlp_findings.py [--root TREE] [--native 0|1]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections.abc import Iterator
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def phone_texts() -> Iterator[str]:
    import phonenumbers
    from phonenumbers import PhoneNumberFormat as F

    types = [getattr(phonenumbers.PhoneNumberType, t) for t in ("FIXED_LINE", "MOBILE",
             "TOLL_FREE", "PREMIUM_RATE", "VOIP", "PERSONAL_NUMBER", "UAN")]  # fmt: skip
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for t in types:
            n = phonenumbers.example_number_for_type(region, t)
            if n is None:
                continue
            e164 = phonenumbers.format_number(n, F.E164)
            yield e164
            yield phonenumbers.format_number(n, F.INTERNATIONAL)
            yield phonenumbers.format_number(n, F.NATIONAL)
            digits = e164[1:]
            for i in range(len(digits)):  # one digit changed, dropped, doubled
                d = str((int(digits[i]) + 3) % 10)
                yield "+" + digits[:i] + d + digits[i + 1 :]
                yield "+" + digits[:i] + digits[i + 1 :]
                yield "+" + digits[:i] + digits[i] + digits[i:]


def _record(phone: str) -> bytes:
    return ('{"contact": {"phone": "%s", "note": "call %s"}}' % (phone, phone)).encode()  # noqa: UP031


def workloads() -> dict[str, list[tuple[bytes | str, str | None]]]:
    from tests.classify.accuracy_report import MAIN_SEED, MAIN_SIZE, SECOND_SEED, SECOND_SIZE
    from tests.classify.corpus import clean_payload, corpus, payload, typical_payload

    dense = [payload(4096, seed=i) for i in range(60)]
    phones = list(phone_texts())
    return {
        "typical": [(typical_payload(i), "application/json") for i in range(200)],
        "dense json": [(b, "application/json") for b in dense],
        "dense text": [(b, "text/plain") for b in dense],
        "clean": [(clean_payload(i), "application/json") for i in range(10)],
        # bench/dlp.py's 1 MiB documents (tens of thousands of leaves and findings in one body)
        "1 MiB typical": [(typical_payload(99, size=1 << 20), "application/json")],
        "1 MiB dense": [(payload(1 << 20, seed=99), "application/json")],
        "accuracy main": [(r.body, r.content_type) for r in corpus(MAIN_SIZE, MAIN_SEED)],
        "accuracy second": [(r.body, r.content_type) for r in corpus(SECOND_SIZE, SECOND_SEED)],
        # each number alone, and in records as a CRM page carries them
        "phones": [(p, "text/plain") for p in phones]
        + [(_record(p), "application/json") for p in phones],
    }


def digest(clf: Any, items: list[tuple[bytes | str, str | None]]) -> tuple[str, int]:
    h = hashlib.sha256()
    count = 0
    for body, ctype in items:
        res = clf.scan(body, ctype)
        h.update(f"{res.data_class!r}|{res.content_kind}|{sorted(res.types)}\n".encode())
        for f in res.findings:
            count += 1
            h.update(
                f"{f.type_id}|{f.data_class!r}|{f.path}|{f.path_parts!r}|{f.start}|{f.end}"
                f"|{f.confidence!r}|{f.preview}\n".encode()
            )
    return h.hexdigest(), count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=ROOT)
    ap.add_argument("--native", choices=("0", "1"), default="1")
    args = ap.parse_args()
    os.environ["RINGFENCE_CLASSIFY_NATIVE"] = args.native
    sys.path[:0] = [os.path.join(args.root, "src"), args.root]
    from ringfence.classify import Classifier, _validators

    clf = Classifier()
    print(f"root {args.root} native {getattr(clf, 'native', '?')}")
    for name, items in workloads().items():
        first = digest(clf, items)
        _validators._phone_parse.cache_clear()
        again = digest(clf, items)
        same = "" if again == first else f"  SECOND PASS DIFFERS: {again[0][:16]}"
        print(f"{name:16} {len(items):6} bodies {first[1]:7} findings  {first[0]}{same}")


if __name__ == "__main__":
    main()
