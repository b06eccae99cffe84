"""The ``classify:`` section of ringfence.yaml: detectors and allow-lists round-trip and load.

Runs on SQLite and PostgreSQL (``any_runtime``): plan/apply/export, the stored form (digests,
never clear allow-listed values), the classifier built from the store, and located errors.
"""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from ringfence.classify import Classifier, allow_digest, classifier_from_store
from ringfence.classify.models import ClassifyEntry
from ringfence.classify.stored import load_stored_config
from ringfence.core.errors import ConfigError
from ringfence.inventory.estate import (
    EstateInvalid,
    apply_estate,
    export_estate,
    parse_estate,
    plan_estate,
)
from ringfence.runtime import Runtime
from ringfence.store.models import AuditRecord

CARD = "4556 7375 8689 9855"  # Luhn-valid, not in the default allow-list
QA_CARD = "4929 4205 7359 5709"  # Luhn-valid, allow-listed below

ESTATE = f"""\
apiVersion: ringfence/v1
classify:
  - name: acme_employee_id
    description: Acme employee number
    class: confidential
    pattern: '\\bEMP-\\d{{6}}\\b'
    context: [employee, staff]
    positive: ["employee EMP-123456"]
    negative: ["EMP-12", "TEMP-123456"]
  - name: qa_test_values
    allow: ["{QA_CARD}"]
"""


def _problems(text: str) -> list[str]:
    with pytest.raises(EstateInvalid) as err:
        parse_estate(text, "ringfence.yaml")
    return [str(p) for p in err.value.problems]


def test_apply_export_round_trip_and_classifier(any_runtime: Runtime) -> None:
    rt = any_runtime
    plan = apply_estate(rt.store, parse_estate(ESTATE, "e.yaml"), clock=rt.clock)
    assert plan.counts() == {"create": 2, "update": 0, "delete": 0}
    assert QA_CARD not in str(plan.to_dict())  # plan output and audit records hold digests
    with rt.store.session() as s:
        audit = " ".join(str((a.before, a.after)) for a in s.scalars(select(AuditRecord)))
        assert "qa_test_values" in audit and QA_CARD.replace(" ", "") not in audit
        assert QA_CARD not in audit
        rows = {r.name: r for r in s.scalars(select(ClassifyEntry))}
        assert {n: r.kind for n, r in rows.items()} == {
            "acme_employee_id": "detector",
            "qa_test_values": "allow",
        }
        stored = str(rows["qa_test_values"].spec)
        assert QA_CARD.replace(" ", "") not in stored and QA_CARD not in stored
        assert rows["qa_test_values"].spec["allow_sha256"] == [allow_digest(QA_CARD)]
    exported = export_estate(rt.store)
    assert "qa_test_values" in exported and QA_CARD not in exported
    assert allow_digest(QA_CARD) in exported and "class: confidential" in exported
    with rt.store.session() as s:
        assert plan_estate(s, parse_estate(exported, "export.yaml")).is_empty
        assert plan_estate(s, parse_estate(ESTATE, "e.yaml")).is_empty
    clf = classifier_from_store(rt.store, engine="re2")
    found = clf.scan_text(f"employee EMP-654321, card {CARD}, qa card {QA_CARD}")
    assert found.types == {"acme_employee_id", "credit_card_number"}
    assert len([f for f in found.findings if f.type_id == "credit_card_number"]) == 1


def test_update_and_delete(any_runtime: Runtime) -> None:
    rt = any_runtime
    apply_estate(rt.store, parse_estate(ESTATE, "e.yaml"), clock=rt.clock)
    changed = ESTATE.replace("class: confidential", "class: restricted").split(
        "  - name: qa_test_values"
    )[0]
    plan = apply_estate(rt.store, parse_estate(changed, "e.yaml"), clock=rt.clock)
    assert plan.counts() == {"create": 0, "update": 1, "delete": 1}
    with rt.store.session() as s:
        cfg = load_stored_config(s)
    assert [d.id for d in cfg.detectors] == ["acme_employee_id"]
    assert cfg.detectors[0].data_class.label == "restricted" and not cfg.allow_sha256


def test_allow_sha256_is_accepted_as_is_and_normalised() -> None:
    digest = allow_digest("4929-4205-7359-5709").upper()
    text = (
        f"apiVersion: ringfence/v1\nclassify:\n  - name: qa_cards\n    allow_sha256: [{digest}]\n"
    )
    item = parse_estate(text, "e.yaml").sections["classify"][0]
    assert item.allow_sha256 == [allow_digest(QA_CARD)]  # type: ignore[attr-defined]


def test_empty_store_gives_the_builtin_classifier(runtime: Runtime) -> None:
    clf = classifier_from_store(runtime.store, engine="re2")
    assert isinstance(clf, Classifier)
    assert not [d for d in clf.detectors if d.category == "custom"]


@pytest.mark.parametrize(
    ("entry", "where", "message"),
    [
        (
            "    class: internal\n    pattern: 'EMP-(\\d+'\n    positive: [EMP-1]\n",
            ":5:",
            "not valid RE2 syntax",
        ),
        (
            "    class: internal\n    pattern: 'EMP-\\d{6}'\n    positive: [EMP-12]\n",
            "classify[0] (acme_x).positive",
            "custom detector 'acme_x': positive example 0 does not match",
        ),
        (
            "    class: internal\n    pattern: 'EMP-\\d{6}'\n    positive: [EMP-123456]\n"
            "    negative: [ok, EMP-999999]\n",
            "classify[0] (acme_x).negative",
            "negative example 1 matches",
        ),
        ("    pattern: 'EMP-\\d{6}'\n    positive: [EMP-123456]\n", ":3:", "needs `class`"),
        ("    class: internal\n    pattern: 'EMP-\\d{6}'\n", ":3:", "`positive` example"),
        ("    class: top\n    pattern: 'x'\n    positive: [x]\n", ":4:", "top"),
        (
            "    class: internal\n    pattern: 'EMP'\n    positive: [EMP]\n    allow: [EMP-1]\n",
            ":3:",
            "not both",
        ),
        ("    description: nothing\n", ":3:", "declare a detector"),
        ("    context: [x]\n    allow: [v]\n", ":3:", "need a `pattern`"),
        ("    allow_sha256: [abc]\n", ":4:", "64 hex digits"),
        ("    allow: [1, 2]\n", ":3:", "non-empty strings"),
        ("    allow: [v]\n    colour: red\n", ":5:", "unknown field 'colour'"),
    ],
)
def test_bad_entries_are_located_errors_naming_the_entry(
    entry: str, where: str, message: str
) -> None:
    text = "apiVersion: ringfence/v1\nclassify:\n  - name: acme_x\n" + entry
    problems = _problems(text)
    assert any(where in p and message in p for p in problems), problems
    assert not any("EMP-999999" in p or "EMP-12" in p for p in problems)  # examples not echoed


def test_builtin_and_duplicate_names_are_refused() -> None:
    text = "apiVersion: ringfence/v1\nclassify:\n  - name: email_address\n    allow: [x]\n"
    assert any("built-in data type id" in p for p in _problems(text))
    dup = "apiVersion: ringfence/v1\nclassify:\n" + "  - name: qa_one\n    allow: [x]\n" * 2
    assert any("duplicate name 'qa_one'" in p for p in _problems(dup))


def test_a_stored_detector_that_no_longer_loads_is_a_config_error(runtime: Runtime) -> None:
    with runtime.store.session() as s:
        s.add(
            ClassifyEntry(
                name="broken_one",
                kind="detector",
                spec={"name": "broken_one", "class": "internal", "pattern": "EMP-\\d{6}",
                      "positive": ["nothing here"]},
            )
        )  # fmt: skip
    with pytest.raises(ConfigError, match="'broken_one': positive example 0"):
        classifier_from_store(runtime.store, engine="re2")


def test_allow_sha256_classifier_argument() -> None:
    digest = hashlib.sha256(QA_CARD.replace(" ", "").encode()).hexdigest()
    clf = Classifier(engine="re2", allow_sha256=[digest])
    assert "credit_card_number" not in clf.scan_text(f"card {QA_CARD}").types
    assert "credit_card_number" in clf.scan_text(f"card {CARD}").types
