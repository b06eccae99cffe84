"""Side by side with detect-secrets and Presidio (pattern recognisers only) on one corpus.

Neither tool is a project dependency: install them outside the project's venv and put them on
``PYTHONPATH`` for this run only, e.g. ``pip install --target /tmp/benchdeps detect-secrets
presidio-analyzer`` then ``PYTHONPATH=/tmp/benchdeps .venv/bin/python
bench/bench_classify_compare.py``. A tool that is not importable is reported as skipped.

Task: the seeded synthetic corpus of ``tests/classify/corpus.py`` (JSON records with labelled
values and hard negatives). Each tool sees every string field; a field counts as detected for
a type when the tool reports that type in it. Scores are field-level precision/recall/F1 on
the types the tools share with us; throughput is process CPU time over the same bytes.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import orjson
from tests.classify.corpus import Record, Score, corpus

from ringfence.classify import BUILTIN_DETECTORS, Classifier
from ringfence.classify._extract import format_path, json_leaves

SECRET_IDS = {d.id for d in BUILTIN_DETECTORS if d.category == "secret"}
# Presidio entity -> our type ids counted as the same thing
PRESIDIO_SHARED = {
    "EMAIL_ADDRESS": {"email_address"},
    "PHONE_NUMBER": {"phone_number", "phone_number_national"},
    "CREDIT_CARD": {"credit_card_number"},
    "IBAN_CODE": {"iban_code"},
    "US_SSN": {"us_social_security_number"},
    "US_ITIN": {"us_individual_taxpayer_identification_number"},
    "US_BANK_NUMBER": {"us_bank_account_number"},
    "US_PASSPORT": {"passport"},
    "US_DRIVER_LICENSE": {"drivers_license_number"},
    "IP_ADDRESS": {"ip_address", "ipv6_address"},
    "CRYPTO": {"crypto_wallet_address"},
    "UK_NHS": {"uk_nhs_number"},
    "ES_NIF": {"spain_dni_number"},
    "ES_NIE": {"spain_nie_number"},
    "IT_FISCAL_CODE": {"italy_fiscal_code"},
    "IN_PAN": {"india_pan_individual"},
    "IN_AADHAAR": {"india_aadhaar_individual"},
    "AU_TFN": {"australia_tax_file_number"},
    "AU_ABN": {"australian_business_number"},
    "AU_MEDICARE": {"australia_medicare_number"},
    "SG_NRIC_FIN": {"singapore_national_registration_id_number"},
}
OURS_TO_PRESIDIO = {ours: p for p, ids in PRESIDIO_SHARED.items() for ours in ids}

Fields = list[tuple[str, str]]  # (path, text)


def fields_of(rec: Record) -> Fields:
    doc = orjson.loads(rec.body)
    return [(format_path(leaf.path), leaf.text) for leaf in json_leaves(doc)]


def score(pred: set[tuple[int, str, str]], truth: set[tuple[int, str, str]]) -> Score:
    s = Score()
    s.tp = len(pred & truth)
    s.fp = len(pred - truth)
    s.fn = len(truth - pred)
    return s


def cpu(fn: Callable[[], Any]) -> float:
    t = time.process_time()
    fn()
    return time.process_time() - t


def detect_secrets_scan(
    per_rec: list[Fields], entropy: bool
) -> tuple[set[tuple[int, str, str]], float] | None:
    """Fields detect-secrets flags, with its default plugins (or without the two entropy ones)."""
    try:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.core.scan import scan_line
        from detect_secrets.settings import default_settings, transient_settings
    except ImportError:
        return None
    if entropy:
        ctx = default_settings()
    else:
        names = [c.__name__ for c in get_mapping_from_secret_type_to_class().values()]
        ctx = transient_settings(
            {"plugins_used": [{"name": n} for n in names if "HighEntropy" not in n]}
        )
    got: set[tuple[int, str, str]] = set()

    def run() -> None:
        for i, fields in enumerate(per_rec):
            for p, text in fields:
                if any(True for _ in scan_line(text)):
                    got.add((i, p, "secret"))

    with ctx:
        t = cpu(run)
    return got, t


def presidio_runner() -> Callable[[str], set[tuple[str, float]]] | None:
    try:
        import tldextract
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine
    except ImportError:
        return None
    # Presidio's email validation uses tldextract, whose default fetches the public suffix
    # list over the network; use the snapshot bundled with the package instead.
    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class NoNlp(NlpEngine):  # type: ignore[misc]
        """Pattern recognisers only: no spaCy model (none can be downloaded here)."""

        def load(self) -> None: ...
        def is_loaded(self) -> bool:
            return True

        def process_text(self, text: str, language: str) -> Any:
            return NlpArtifacts([], [], [], [], self, language)

        def process_batch(self, texts: Any, language: str, **kw: Any) -> Any:
            for t in texts:
                yield t, self.process_text(t, language)

        def is_stopword(self, word: str, language: str) -> bool:
            return False

        def is_punct(self, word: str, language: str) -> bool:
            return False

        def get_supported_entities(self) -> list[str]:
            return []

        def get_supported_languages(self) -> list[str]:
            return ["en"]

    registry = RecognizerRegistry()
    registry.load_predefined_recognizers()
    engine = AnalyzerEngine(registry=registry, nlp_engine=NoNlp(), supported_languages=["en"])

    def run(text: str) -> set[tuple[str, float]]:
        return {(r.entity_type, r.score) for r in engine.analyze(text=text, language="en")}

    return run


def main() -> None:
    recs = [r for r in corpus(300, seed=424242) if r.content_type == "application/json"]
    per_rec = [fields_of(r) for r in recs]
    nbytes = sum(len(r.body) for r in recs)
    truth_secret = {
        (i, p, "secret") for i, r in enumerate(recs) for p, t in r.labels if t in SECRET_IDS
    }
    truth_pii = {
        (i, p, OURS_TO_PRESIDIO[t])
        for i, r in enumerate(recs)
        for p, t in r.labels
        if t in OURS_TO_PRESIDIO
    }
    c = Classifier()
    print(f"# classify vs detect-secrets vs Presidio — {len(recs)} JSON records, {nbytes} bytes")
    print(f"load1={os.getloadavg()[0]:.1f}; throughput = process CPU time\n")

    ours: list[Any] = []
    t_ours = cpu(lambda: ours.extend(c.scan(r.body, "application/json") for r in recs))
    pred_secret = {
        (i, f.path, "secret")
        for i, res in enumerate(ours)
        for f in res.findings
        if f.type_id in SECRET_IDS
    }
    pred_pii = {
        (i, f.path, OURS_TO_PRESIDIO[f.type_id])
        for i, res in enumerate(ours)
        for f in res.findings
        if f.type_id in OURS_TO_PRESIDIO
    }
    only_secrets = Classifier(detectors=[d for d in BUILTIN_DETECTORS if d.category == "secret"])
    ours_s: list[Any] = []
    t_s = cpu(lambda: ours_s.extend(only_secrets.scan(r.body, "application/json") for r in recs))
    pred_s2 = {(i, f.path, "secret") for i, res in enumerate(ours_s) for f in res.findings}
    rows = [("ringfence.classify", "secrets", score(pred_secret, truth_secret), t_ours)]
    rows.append(
        ("ringfence.classify, secret types only", "secrets", score(pred_s2, truth_secret), t_s)
    )
    rows.append(("ringfence.classify", "shared PII types", score(pred_pii, truth_pii), t_ours))

    for entropy in (True, False):
        found = detect_secrets_scan(per_rec, entropy)
        if found is None:
            print("detect-secrets: not importable, skipped")
            break
        label = "default plugins" if entropy else "without the entropy plugins"
        rows.append(
            (f"detect-secrets 1.5 ({label})", "secrets", score(found[0], truth_secret), found[1])
        )

    pr = presidio_runner()
    if pr is None:
        print("presidio-analyzer: not importable, skipped")
    else:
        got_p: dict[float, set[tuple[int, str, str]]] = {0.0: set(), 0.5: set()}

        def run_pr() -> None:
            for i, fields in enumerate(per_rec):
                for p, text in fields:
                    for ent, sc in pr(text):
                        if ent in PRESIDIO_SHARED:
                            for floor, bucket in got_p.items():
                                if sc >= floor:
                                    bucket.add((i, p, ent))

        t_pr = cpu(run_pr)
        for floor, bucket in got_p.items():
            name = f"presidio-analyzer 2.x (patterns only, score >= {floor})"
            rows.append((name, "shared PII types", score(bucket, truth_pii), t_pr))

    print("| tool | task | TP | FP | FN | precision | recall | F1 | MB/s per core |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, task, s, t in rows:
        print(
            f"| {name} | {task} | {s.tp} | {s.fp} | {s.fn} | {s.precision:.3f} | {s.recall:.3f} "
            f"| {s.f1:.3f} | {nbytes / t / 1e6:.2f} |"
        )
    print()
    for name, task, _, t in rows:
        if not name.startswith("ringfence"):
            print(
                f"{name}: ringfence.classify (all {len(c.detectors)} types) is {t / t_ours:.1f}x "
                f"faster; with the secret types only {t / t_s:.1f}x"
                if task == "secrets"
                else f"{name}: ringfence.classify (all types) is {t / t_ours:.1f}x faster"
            )


if __name__ == "__main__":
    main()
