"""Review 10: a finding's path never shows a payload key that is itself a detected value.

Before: ``{"alice@corp.example": {"ssn": "536-90-4399"}}`` gave the finding path
``$["alice@corp.example"].ssn`` in ``ringfence scan`` (table, JSON, SARIF — which CI uploads)
and in ``/classify/scan``: the address in clear next to a masked SSN.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ringfence.classify import Classifier
from ringfence.classify.api import get_classifier, router
from ringfence.classify.cli import app

BODY = b'{"users": {"alice@corp.example": {"ssn": "536-90-4399"}, "bob": {"ssn": "x"}}}'


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_cli_paths_mask_keys_that_are_data(tmp_path: object, fmt: str) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "users.json"
    path.write_bytes(BODY)
    res = CliRunner().invoke(app, ["scan", str(path), "-f", fmt])
    assert res.exit_code == 1
    assert "alice" not in res.stdout and "a****@corp.example" in res.stdout


def test_api_paths_mask_keys_that_are_data(classifier: Classifier) -> None:
    api = FastAPI()
    api.include_router(router)
    api.dependency_overrides[get_classifier] = lambda: classifier
    res = TestClient(api).post(
        "/classify/scan", content=BODY, headers={"content-type": "application/json"}
    )
    assert res.status_code == 200 and "alice" not in res.text
    assert res.json()["findings"][0]["path"] == '$.users["a****@corp.example"].ssn'


def test_ordinary_keys_are_shown_as_they_are(classifier: Classifier) -> None:
    api = FastAPI()
    api.include_router(router)
    api.dependency_overrides[get_classifier] = lambda: classifier
    res = TestClient(api).post(
        "/classify/scan",
        content=b'{"user": {"ssn": "536-90-4399"}}',
        headers={"content-type": "application/json"},
    )
    assert res.json()["findings"][0]["path"] == "$.user.ssn"
