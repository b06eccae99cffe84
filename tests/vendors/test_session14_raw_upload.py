"""Session 14: staff upload evidence up to the document limit (20 MiB) as a raw body."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from ringfence.runtime import Runtime
from ringfence.vendors.models import VendorDocument
from tests.vendors.test_api import Client, V, client  # noqa: F401

# Spelt out, not imported: the route and its limit are the API's promise (docs/vendors.md).
UPLOAD_PREFIX = "/api/v1/vendor-risk/document-uploads/"
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
URL = UPLOAD_PREFIX + "Acme Payroll"


def _stored(runtime: Runtime) -> int:
    with runtime.store.session() as s:
        return s.query(VendorDocument).count()


def test_a_large_report_uploads_as_a_raw_body_and_reads_back(
    client: Client,  # noqa: F811
    runtime: Runtime,
) -> None:
    report = b"%PDF-1.7 " + bytes(range(256)) * (12 * 4096)  # 12 MiB and change
    r = client.http.post(
        URL,
        params={"filename": "SOC 2 Type II 2026.pdf"},
        content=report,
        headers={**client.rw, "Content-Type": "application/pdf"},
    )
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["size"] == len(report) and doc["content_type"] == "application/pdf"
    assert doc["sha256"] == hashlib.sha256(report).hexdigest()
    got = client.http.get(f"{V}/documents/{doc['id']}", headers=client.ro)
    assert got.status_code == 200 and got.content == report


def test_a_body_over_the_limit_is_413_problem_json(
    client: Client,  # noqa: F811
    runtime: Runtime,
) -> None:
    big = b"x" * (MAX_UPLOAD_BYTES + 1)
    r = client.http.post(URL, params={"filename": "big.pdf"}, content=big, headers=client.rw)
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "payload_too_large"

    # Streamed without a Content-Length: counted as it arrives.
    def chunks() -> Iterator[bytes]:
        for _ in range(21):
            yield b"y" * (1024 * 1024)

    r = client.http.post(URL, params={"filename": "big.pdf"}, content=chunks(), headers=client.rw)
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
    assert _stored(runtime) == 0


def test_bad_raw_uploads_are_clear_4xx(client: Client, runtime: Runtime) -> None:  # noqa: F811
    ok = {"filename": "x.pdf"}
    cases = [
        (URL, {}, b"%PDF", client.rw, 422),  # no filename
        (URL, ok, b"", client.rw, 400),  # empty file
        (UPLOAD_PREFIX + "Nobody Inc", ok, b"%PDF", client.rw, 404),
        (URL, ok, b"%PDF", client.ro, 403),  # read scope
        (URL, ok, b"%PDF", {}, 401),
    ]
    for url, params, body, headers, status in cases:
        r = client.http.post(url, params=params, content=body, headers=headers)
        assert r.status_code == status, (url, params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert _stored(runtime) == 0


def test_the_json_upload_keeps_its_one_mib_cap(client: Client) -> None:  # noqa: F811
    body = {"filename": "a.pdf", "content_base64": "A" * (1024 * 1024)}
    r = client.http.post(f"{V}/Acme Payroll/documents", json=body, headers=client.rw)
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
