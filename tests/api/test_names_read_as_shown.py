"""REST names follow the estate file's rule: nothing that makes a name read as another.

Before, the API's Name pattern refused C0 controls and DEL only, so a vendor or integration
created through the API could hold a right-to-left override ('evil\\u202egnp.exe' shows as
'evilexe.png'), a zero-width space ('admin\\u200b' shows as 'admin') or a C1 / line separator
— which ringfence.yaml refuses — and `ringfence export` then wrote a file that does not load.
"""

from __future__ import annotations

import pytest

from tests.api.conftest import Api

HIDDEN = ["evil\u202egnp.exe", "admin\u200b", "a\u0085b", "a\u2028b", "\ufeffacme", "x\u2066y"]


@pytest.mark.parametrize("name", HIDDEN)
def test_a_name_with_hidden_characters_is_a_422_naming_the_field(api: Api, name: str) -> None:
    r = api.post("/api/v1/vendors", json={"name": name})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in r.json()["errors"]] == ["name"]
    assert api.get("/api/v1/vendors").json()["items"] == []


def test_the_rule_holds_on_update_and_other_scripts_are_fine(api: Api) -> None:
    assert api.post("/api/v1/vendors", json={"name": "Acme"}).status_code == 201
    r = api.patch("/api/v1/vendors/Acme", json={"name": "Acme\u200b"})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["name"]
    assert api.post("/api/v1/vendors", json={"name": "Café Acme 株式会社"}).status_code == 201


def test_a_name_that_reads_like_an_existing_one_is_a_409(api: Api) -> None:
    assert api.post("/api/v1/vendors", json={"name": "Acme"}).status_code == 201
    for lookalike in ("\u0410cme", "Acrne"):
        r = api.post("/api/v1/vendors", json={"name": lookalike})
        assert r.status_code == 409, r.text
        assert r.json()["code"] == "lookalike_name"
        assert "'Acme'" in r.json()["detail"]
    assert api.post("/api/v1/vendors", json={"name": "Beta"}).status_code == 201
    r = api.patch("/api/v1/vendors/Beta", json={"name": "\u0410cme"})
    assert r.status_code == 409, r.text
    assert api.patch("/api/v1/vendors/Acme", json={"name": "Acme"}).status_code == 200
    assert api.post("/api/v1/vendors", json={"name": "acme"}).status_code == 201  # case shows
