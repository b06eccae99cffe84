"""The vendor-risk flows on SQLite and PostgreSQL: links, documents, evidence, score, estate."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ringfence.core.errors import ConflictError
from ringfence.inventory.estate import apply_estate, parse_estate, plan_estate
from ringfence.runtime import Runtime
from ringfence.store.models import Vendor
from ringfence.vendors import assessments as asm
from ringfence.vendors import documents, service
from ringfence.vendors.models import Assessment
from tests.vendors.conftest import add_integration, make_estate
from tests.vendors.test_assessments import good_answers
from tests.vendors.test_estate import BASE, RISK


def test_vendor_risk_flows_on_both_engines(any_runtime: Runtime) -> None:
    rt = any_runtime
    estate = make_estate(rt)
    add_integration(rt, estate, "sync", scopes=["admin"], classes=["restricted"])
    with rt.store.session() as s:
        sent = asm.send(s, s.get_one(Vendor, estate.vendor_id), rt.clock, template="lite")
        token, aid = sent.token, sent.assessment.id
    with rt.store.session() as s:
        ids = list(s.get_one(Assessment, aid).question_ids)
        asm.submit_by_token(s, token, good_answers(ids), rt.clock)
    with pytest.raises(ConflictError), rt.store.session() as s:
        asm.submit_by_token(s, token, good_answers(ids), rt.clock)
    with rt.store.session() as s:
        doc = documents.store_document(
            s, rt.vault, rt.clock, vendor_id=estate.vendor_id, filename="r.pdf", content=b"%PDF"
        )
        doc_id = doc.id
    with rt.store.session() as s:
        assert documents.read_document(s, rt.vault, doc_id)[1] == b"%PDF"
    (risk,) = service.risk(rt, "Acme Payroll")
    assert (
        risk.highest_data_class.label == "restricted" and risk.assessment.state.value == "current"
    )
    # The ringfence.yaml section, in the same store (one database per engine keeps this fast).
    rt.clock.advance(days=330)  # type: ignore[attr-defined]
    # The vendors section is authoritative: keep the two vendors made above.
    text = BASE + "  - name: Acme Payroll\n  - name: Acme Payroll customer\n" + RISK
    apply_estate(rt.store, parse_estate(text, "estate.yaml"), actor="t", clock=rt.clock)
    with rt.store.session() as s:
        assert plan_estate(s, parse_estate(text, "estate.yaml")).is_empty
    (r,) = service.risk(rt, "Payroll Co")
    assert r.open_critical_findings and r.has_dpa
    assert r.assessment.next_due is not None
    assert r.assessment.next_due - r.assessment.last_submitted_at == timedelta(days=182)  # type: ignore[operator]
