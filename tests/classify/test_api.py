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


def test_tokenize_is_refused_without_server_key(client: TestClient) -> None:
    from ringfence.core.errors import ValidationError

    with pytest.raises(ValidationError):
        client.post("/classify/redact?mode=tokenize", content=b"x")


def test_types(client: TestClient) -> None:
    assert len(client.get("/classify/types").json()) >= 100
