"""Review 10: the classify REST API uses the stored ``classify:`` section, reads every charset
and never scans on the event loop.

Before: ``get_classifier`` was never overridden by the API (its docstring said it was), so
``/api/v1/classify`` ignored the custom detectors and allow-lists that ``ringfence apply``
stored — a confidential employee id was neither found nor redacted there while the gateway
blocked it; a body in UTF-16 (declared, or with a BOM) was "public" and came back from
``/redact`` untouched.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ringfence.api import problems
from ringfence.classify.api import router
from ringfence.classify.estate_section import ClassifySpec
from ringfence.classify.models import ClassifyEntry
from ringfence.runtime import Runtime

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

QA_CARD = "4929 4205 7359 5709"


def _store(runtime: Runtime, spec: dict[str, object], when_minutes: int = 0) -> None:
    item = ClassifySpec.model_validate(spec)
    with runtime.store.session() as s:
        now = runtime.clock.now() + timedelta(minutes=when_minutes)
        s.add(
            ClassifyEntry(
                name=item.name,
                kind=item.kind,
                spec=item.model_dump(mode="json", exclude={"allow"}),
                created_at=now,
                updated_at=now,
            )
        )


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    app = FastAPI()
    app.state.runtime = runtime
    problems.install(app)
    app.include_router(router)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_stored_detectors_and_allow_lists_are_used(runtime: Runtime, client: TestClient) -> None:
    body = f'{{"staff": "employee EMP-123456", "card": "{QA_CARD}"}}'.encode()
    ct = {"content-type": "application/json"}
    before = client.post("/classify/scan", content=body, headers=ct).json()
    assert "credit_card_number" in {f["type"] for f in before["findings"]}
    _store(
        runtime,
        {
            "name": "acme_employee_id",
            "class": "confidential",
            "pattern": r"\bEMP-\d{6}\b",
            "context": ["employee"],
            "positive": ["employee EMP-123456"],
        },
    )
    _store(runtime, {"name": "qa_cards", "allow": [QA_CARD]}, when_minutes=1)
    after = client.post("/classify/scan", content=body, headers=ct).json()
    assert {f["type"] for f in after["findings"]} == {"acme_employee_id"}
    red = client.post("/classify/redact", content=body, headers=ct)
    assert red.status_code == 200 and "123456" not in red.text


def test_a_stored_detector_that_no_longer_loads_is_a_503(
    runtime: Runtime, client: TestClient
) -> None:
    with runtime.store.session() as s:
        s.add(
            ClassifyEntry(
                name="broken_one",
                kind="detector",
                spec={
                    "name": "broken_one",
                    "class": "internal",
                    "pattern": "EMP-\\d{6}",
                    "positive": ["nothing here"],
                },
            )
        )
    res = client.post("/classify/scan", content=b"x", headers={"content-type": "text/plain"})
    assert res.status_code == 503 and "broken_one" in res.text


@pytest.mark.parametrize(
    ("encoding", "ctype"),
    [
        ("utf-16", "text/csv; charset=utf-16"),
        ("utf-16-le", "text/csv; charset=UTF-16LE"),
        ("utf-32", "text/csv"),  # BOM only
        ("utf-16", "application/json"),  # BOM only
        ("latin-1", "text/csv; charset=iso-8859-1"),
    ],
)
def test_a_body_in_another_charset_is_decoded(
    client: TestClient, encoding: str, ctype: str
) -> None:
    text = (
        '{"ssn": "536-90-4399", "name": "Zoë"}'
        if ctype == "application/json"
        else "name,ssn\nZoë,536-90-4399\n"
    )
    body = text.encode(encoding)
    scan = client.post("/classify/scan", content=body, headers={"content-type": ctype})
    assert scan.status_code == 200 and scan.json()["class"] == "restricted", scan.text
    red = client.post("/classify/redact", content=body, headers={"content-type": ctype})
    assert red.status_code == 200 and "4399" in red.text and "536-90" not in red.text
    assert "Zoë" in red.content.decode("utf-8")


def test_an_unknown_charset_is_a_415(client: TestClient) -> None:
    res = client.post(
        "/classify/scan", content=b"x", headers={"content-type": "text/plain; charset=klingon"}
    )
    assert res.status_code == 415 and "klingon" in res.text


def test_deeply_nested_json_is_redacted_not_a_500(client: TestClient) -> None:
    body = b"[" * 600 + b'"john.smith@acme.io"' + b"]" * 600
    res = client.post(
        "/classify/redact", content=body, headers={"content-type": "application/json"}
    )
    assert res.status_code == 200 and b"john.smith" not in res.content


def test_allow_list_digest_is_what_the_store_holds(runtime: Runtime) -> None:
    _store(runtime, {"name": "qa_cards", "allow": [QA_CARD]})
    with runtime.store.session() as s:
        row = s.query(ClassifyEntry).one()
        digest = hashlib.sha256(QA_CARD.replace(" ", "").encode()).hexdigest()
        assert row.spec["allow_sha256"] == [digest] and QA_CARD not in str(row.spec)
