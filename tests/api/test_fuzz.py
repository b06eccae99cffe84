"""Schemathesis over every operation of the control-plane OpenAPI document, in-process.

For each operation, a fixed-seed handful of schema-shaped (positive) and schema-violating
(negative) requests goes to the ASGI app on a seeded SQLite runtime, as an admin with MFA (its
personal token holds every scope, so identity routes are reached, not refused with 403). Every
answer must be: no 5xx; no traceback text; a 4xx as RFC 9457 problem+json whose ``status`` is
the response's; and status code, content type and body as the document declares them.

Bounded: a few examples per operation and generation mode, no shrinking; ~30-60 s on one core.
Schemathesis's ``positive_data_acceptance`` / ``negative_data_rejection`` checks are left out:
business rules the document cannot express (a reference must exist, ``sort`` must name a
column) make a schema-valid request a 4xx, and that is not a defect.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pyotp
import pytest
import schemathesis
from argon2 import PasswordHasher
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core import NOT_SET
from schemathesis.core.failures import FailureGroup

from ringfence.identity.accounts import Accounts
from ringfence.identity.roles import scopes_of
from ringfence.identity.settings import IdentitySettings
from tests.api.conftest import Api

EXAMPLES = 6  # per operation and generation mode
SEED = 20261126
PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"/")
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]
NOT_CHECKED: dict[str, set[str]] = {}


@pytest.fixture
def admin_token(seeded: Api) -> str:
    app: Any = seeded.client.app
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    settings_ = IdentitySettings(cookie_secure=True, delay_base_seconds=0)
    app.state.identity_settings = settings_
    app.state.password_hasher = hasher
    rt = seeded.runtime
    accounts = Accounts(rt.store, rt.vault, rt.clock, settings_, hasher)
    user = accounts.create_user("fuzz@corp.example", roles=["admin"], password="fuzz-pass-phrase")
    uri = accounts.begin_totp(user.id).provisioning_uri.get_secret_value()
    otp = pyotp.TOTP(pyotp.parse_uri(uri).secret).at(seeded.clock.now())
    accounts.confirm_totp(user.id, otp, actor="test")
    scopes = sorted(scopes_of(["admin"]))
    return accounts.issue_token(user.id, "fuzz", scopes, 30, actor="test").token.get_secret_value()


def _findings(case: Any, headers: dict[str, str]) -> list[str]:
    """Send one case; what is wrong with the answer (empty when nothing is)."""
    try:
        response = case.call(headers=headers)
    except Exception as exc:  # the in-process client re-raises what the app did not handle
        return [f"unhandled {type(exc).__name__} (a 500)"]
    out: list[str] = []
    excluded = NOT_CHECKED.get(case.operation.label, set())
    try:
        checks = [c for c in CHECKS if c.__name__ not in excluded]
        case.validate_response(response, checks=checks, headers=headers)
    except FailureGroup as group:
        out.extend(failure.title for failure in group.exceptions)
    status = response.status_code
    if TRACEBACK.search(response.content.decode("utf-8", "replace")):
        out.append("traceback text in the body")
    if not 400 <= status < 500:
        return out
    media = response.headers.get("content-type", [""])[0].split(";", 1)[0]
    documented = case.operation.definition.raw["responses"].get(str(status), {})
    if media == "text/html" and "text/html" in documented.get("content", {}):
        return out  # the vendor form answers its own errors with a page, as documented
    if media != "application/problem+json":
        return [*out, f"{status} as {media!r}, not application/problem+json"]
    body = response.json()
    if not isinstance(body, dict) or not body.keys() >= PROBLEM_KEYS:
        out.append(f"{status} problem lacks some of {sorted(PROBLEM_KEYS)}")
    elif body["status"] != status or not body["detail"]:
        out.append(f"{status} problem says status {body['status']}, detail {body['detail']!r}")
    return out


def test_every_operation_answers_hostile_input_with_a_documented_problem(
    seeded: Api, admin_token: str
) -> None:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", seeded.client.app)
    headers = {"Authorization": f"Bearer {admin_token}"}
    failures: dict[tuple[str, str], str] = {}  # (operation, finding) -> first request

    def fuzz(strategy: st.SearchStrategy[Any]) -> None:
        @seed(SEED)
        @settings(
            max_examples=EXAMPLES,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: findings are collected
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case: Any) -> None:
            for finding in _findings(case, headers):
                failures.setdefault((case.operation.label, finding), _request(case))

        # A mode may have nothing to generate (no parameter to violate): that is fine.
        with contextlib.suppress(Unsatisfiable):
            run()

    operations = 0
    for result in schema.get_all_operations():
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(result.ok().as_strategy(generation_mode=mode))

    assert operations >= 100
    report = "\n".join(f"{op}: {what}\n    {req}" for (op, what), req in failures.items())
    assert not failures, f"{len(failures)} finding(s):\n{report}"


def _request(case: Any) -> str:
    body = "" if case.body is NOT_SET else f" body={str(case.body)[:200]}"
    return f"{case.method} {case.formatted_path} query={case.query}{body}"
