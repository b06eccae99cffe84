"""The classify router: scan, redact, types; errors as RingfenceError."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ringfence.classify import Classifier
from ringfence.classify.api import get_classifier, router


@pytest.fixture
def client(classifier: Classifier) -> TestClient:
    app = FastAPI()
    app.include_router(router)
    app.dependency_overrides[get_classifier] = lambda: classifier
    return TestClient(app)


def test_scan_returns_masked_findings(client: TestClient) -> None:
    res = client.post(
        "/classify/scan",
        content=b'{"ssn": "536-90-4399"}',
        headers={"content-type": "application/json"},
    )
    assert res.status_code == 200
    body = res.json()
    assert body["class"] == "restricted"
    assert body["findings"][0]["path"] == "$.ssn"
    assert "536-90-4399" not in res.text


def test_redact_keeps_json_and_reports_class(client: TestClient) -> None:
    res = client.post(
        "/classify/redact",
        content=b'{"ssn": "536-90-4399"}',
        headers={"content-type": "application/json"},
    )
    assert res.json() == {"ssn": "***-**-4399"}
    assert res.headers["x-ringfence-class"] == "restricted"


@pytest.mark.parametrize(
    ("sent", "answered"),
    [
        ("application/json", "application/json"),
        ("application/merge-patch+json", "application/json"),
        ("text/csv", "text/csv; charset=utf-8"),
        ("text/html", "text/plain; charset=utf-8"),
        ("image/svg+xml", "text/plain; charset=utf-8"),
        (None, "text/plain; charset=utf-8"),
    ],
)
def test_redacted_body_is_never_answered_as_a_renderable_type(
    client: TestClient, sent: str | None, answered: str
) -> None:
    headers = {"content-type": sent} if sent else {}
    res = client.post("/classify/redact", content=b'{"a": "<script>x</script>"}', headers=headers)
    assert res.status_code == 200 and res.headers["content-type"] == answered


def test_tokenize_is_refused_without_server_key(client: TestClient) -> None:
    from ringfence.core.errors import ValidationError

    with pytest.raises(ValidationError):
        client.post("/classify/redact?mode=tokenize", content=b"x")


def test_types(client: TestClient) -> None:
    assert len(client.get("/classify/types").json()) >= 100
