"""Table-driven tests per secret detector: the token format positive, placeholders negative."""

from __future__ import annotations

import random

import pytest

from ringfence.classify import BUILTIN_DETECTORS, Classifier, Detector
from tests.classify.conftest import types_in
from tests.classify.corpus import mutate_secret

SECRETS = [d for d in BUILTIN_DETECTORS if d.category == "secret"]
SPECIAL = {"generic_secret_field", "gcp_service_account_key"}


def _in_context(det: Detector, value: str) -> str:
    return f"{det.context[0]} = {value}" if det.needs_context else f"deploy with {value} now"


@pytest.mark.parametrize("det", [d for d in SECRETS if d.id not in SPECIAL], ids=lambda d: d.id)
def test_secret_format_is_detected(classifier: Classifier, det: Detector) -> None:
    value = mutate_secret(random.Random(det.id), det)
    assert det.id in types_in(classifier, _in_context(det, value))


@pytest.mark.parametrize(
    "det",
    [d for d in SECRETS if d.id not in SPECIAL and d.id not in ("private_key", "json_web_token")],
    ids=lambda d: d.id,
)
def test_placeholder_token_is_not_a_secret(classifier: Classifier, det: Detector) -> None:
    keep = det.keep_prefix
    example = det.example
    placeholder = example[:keep] + "".join("x" if c.isalnum() else c for c in example[keep:])
    assert det.id not in types_in(classifier, _in_context(det, placeholder))


@pytest.mark.parametrize(
    ("type_id", "text", "expected"),
    [
        ("private_key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA", True),
        ("private_key", "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOC", False),
        (
            "json_web_token",
            "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ",
            True,
        ),
        (
            "json_web_token",
            "eyJub3QiOiJqd3QifQ.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ",
            False,
        ),
        ("basic_auth_url", "DATABASE_URL=postgres://app:Zq8vL2mN4pR7@db.internal:5432/app", True),
        ("basic_auth_url", "DATABASE_URL=postgres://app:password@db.internal:5432/app", False),
        ("basic_auth_url", "DATABASE_URL=postgres://app:${DB_PASSWORD}@db.internal/app", False),
        ("aws_access_key_id", "aws_access_key_id=AKIAIOSFODNN7EXAMPLE", False),  # AWS docs example
        ("aws_access_key_id", "id AKIA1234567890123456", False),  # digits 0,1,8,9 not base32
        (
            "aws_secret_access_key",
            "key wJalrXUtnFEMIK7MDENGbPxRfiCYzq8vL2mN4pR7",
            False,
        ),  # no context
        ("github_pat_classic", "ghp_" + "a1" * 17, False),  # too short
        ("stripe_secret_key", "pk_live_" + "Zq8vL2mN4pR7tY1wX5cB9dE3", False),  # publishable key
        ("generic_secret_assignment", 'api_key = "Zq8vL2mN4pR7tY1wX5cB9dE3"', True),
        ("generic_secret_assignment", 'api_key = "aaaaaaaaaaaaaaaaaaaaaaaa"', False),
        ("generic_secret_assignment", "token_count = 1234567890123456", False),
    ],
)
def test_secret_edge_cases(classifier: Classifier, type_id: str, text: str, expected: bool) -> None:
    assert (type_id in types_in(classifier, text)) is expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"client_secret": "Zq8vL2mN4pR7tY1wX5cB"}', True),
        (b'{"password": "hunter22"}', True),
        (b'{"db": {"password": "********"}}', False),
        (b'{"password": "${DB_PASSWORD}"}', False),
        (b'{"token_type": "Bearer", "expires_in": 3600}', False),
        (b'{"next_page_token": "eyJwYWdlIjoyLCJzaXplIjo1MH0"}', False),
        (b'{"api_key": "short"}', False),
        (b'{"auth": {"token": "Zq8vL2mN4pR7tY1wX5cB9dE3"}}', True),
    ],
)
def test_generic_secret_field_by_key_name(
    classifier: Classifier, body: bytes, expected: bool
) -> None:
    res = classifier.scan(body, "application/json")
    assert ("generic_secret_field" in res.types) is expected


def test_gcp_service_account_json_is_restricted(classifier: Classifier) -> None:
    body = b'{"type": "service_account", "project_id": "acme", "private_key_id": "k1"}'
    res = classifier.scan(body, "text/plain")
    assert "gcp_service_account_key" in res.types
    assert res.data_class.label == "restricted"
