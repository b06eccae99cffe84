"""Session 14: the documents a questionnaire link attaches are all-or-nothing."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ringfence.api import create_app
from ringfence.core.clock import FixedClock
from ringfence.runtime import Runtime
from ringfence.store.apitokens import ApiTokens
from ringfence.store.models import VaultSecret
from ringfence.store.vault import Vault
from ringfence.vendors.api import MAX_LINK_DOCUMENTS
from ringfence.vendors.models import VendorDocument
from tests.vendors.conftest import Estate
from tests.vendors.test_api import Client, _send, _token
from tests.vendors.test_assessments import good_answers

EVIDENCE = ("AA-03", "STA-07", "TVM-02")


class FailingVault(Vault):
    """A vault whose k-th put fails, as a full disk or a lost connection would."""

    def __init__(self, inner: Vault, fail_at: int) -> None:
        self.__dict__.update(inner.__dict__)
        self.puts = 0
        self.fail_at = fail_at

    def put(self, name: str, value: str | bytes, **kw: Any) -> Any:
        self.puts += 1
        if self.puts == self.fail_at:
            raise OSError("injected failure")
        return super().put(name, value, **kw)


class SlowVault(Vault):
    """A vault that takes its time before sealing a key: widens any check-then-store gap."""

    def __init__(self, inner: Vault) -> None:
        self.__dict__.update(inner.__dict__)

    def put(self, name: str, value: str | bytes, **kw: Any) -> Any:
        time.sleep(0.1)
        return super().put(name, value, **kw)


@pytest.fixture
def client(runtime: Runtime, clock: FixedClock, estate: Estate) -> Iterator[Client]:
    tokens = ApiTokens(runtime.store, clock)
    rw = tokens.issue("vendor-admin", ["read", "write"], 30).token.get_secret_value()
    with TestClient(create_app(runtime), raise_server_exceptions=False) as http:
        yield Client(http, {"Authorization": f"Bearer {rw}"}, {})


def _counts(runtime: Runtime) -> tuple[int, int]:
    with runtime.store.session() as s:
        docs = s.query(VendorDocument).count()
        keys = s.query(VaultSecret).filter(VaultSecret.name.like("vendors/documents/%")).count()
        return docs, keys


@pytest.mark.parametrize("k", [1, 2, 3])
def test_a_form_failing_at_document_k_attaches_none(
    client: Client, runtime: Runtime, k: int
) -> None:
    path = "/api/v1/vendor-assessments/" + _token(_send(client, "full")["link"])
    ids = [x["id"] for x in client.http.get(path).json()["questions"]]
    answers = good_answers(ids)
    data = {f"q_{q}": v for q, v in answers.items() if q not in EVIDENCE}
    files = {f"f_{q}": (f"{q}.pdf", f"%PDF {q}".encode(), "application/pdf") for q in EVIDENCE}
    runtime.vault = FailingVault(runtime.vault, k)
    r = client.http.post(path.removeprefix("/api/v1"), data=data, files=files)
    assert r.status_code >= 400
    assert _counts(runtime) == (0, 0)


def test_a_form_without_failure_attaches_every_document(client: Client, runtime: Runtime) -> None:
    path = "/api/v1/vendor-assessments/" + _token(_send(client, "full")["link"])
    ids = [x["id"] for x in client.http.get(path).json()["questions"]]
    answers = good_answers(ids)
    data = {f"q_{q}": v for q, v in answers.items() if q not in EVIDENCE}
    files = {f"f_{q}": (f"{q}.pdf", f"%PDF {q}".encode(), "application/pdf") for q in EVIDENCE}
    r = client.http.post(path.removeprefix("/api/v1"), data=data, files=files)
    assert r.status_code == 200, r.text
    assert _counts(runtime) == (3, 3)


def _fill(runtime: Runtime, path: str, n: int) -> None:
    """Store ``n`` documents for the link directly (as n JSON uploads would)."""
    token = path.rsplit("/", 1)[1]
    from ringfence.vendors import assessments as asm
    from ringfence.vendors import documents

    with runtime.store.session() as s:
        row = asm.open_by_token(s, token, runtime.clock)
        for i in range(n):
            documents.store_document(
                s,
                runtime.vault,
                runtime.clock,
                vendor_id=row.vendor_id,
                filename=f"{i}.pdf",
                content=b"%PDF",
                assessment_id=row.id,
                question_id="AA-03",
            )


def test_the_form_counts_its_files_against_the_link_cap(client: Client, runtime: Runtime) -> None:
    path = "/api/v1/vendor-assessments/" + _token(_send(client, "full")["link"])
    ids = [x["id"] for x in client.http.get(path).json()["questions"]]
    answers = good_answers(ids)
    _fill(runtime, path, MAX_LINK_DOCUMENTS - 2)
    data = {f"q_{q}": v for q, v in answers.items() if q not in EVIDENCE}
    files = {f"f_{q}": (f"{q}.pdf", f"%PDF {q}".encode(), "application/pdf") for q in EVIDENCE}
    r = client.http.post(path.removeprefix("/api/v1"), data=data, files=files)
    assert r.status_code == 409, r.text
    assert f"at most {MAX_LINK_DOCUMENTS}" in r.text and "Too many documents" in r.text
    # All or nothing: none of the three is stored, the link stays open.
    assert _counts(runtime) == (MAX_LINK_DOCUMENTS - 2, MAX_LINK_DOCUMENTS - 2)
    assert client.http.get(path).status_code == 200


def test_concurrent_json_uploads_never_pass_the_link_cap(client: Client, runtime: Runtime) -> None:
    path = "/api/v1/vendor-assessments/" + _token(_send(client, "full")["link"])
    _fill(runtime, path, MAX_LINK_DOCUMENTS - 1)
    body = {
        "question_id": "AA-03",
        "filename": "soc2.pdf",
        "content_base64": base64.b64encode(b"%PDF-1.7 evidence").decode(),
    }
    runtime.vault = SlowVault(runtime.vault)
    with ThreadPoolExecutor(8) as pool:
        codes = sorted(
            pool.map(
                lambda _: client.http.post(f"{path}/documents", json=body).status_code, range(8)
            )
        )
    assert codes == [201] + [409] * 7
    assert _counts(runtime)[0] == MAX_LINK_DOCUMENTS
