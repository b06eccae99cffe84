"""Review 10 A6: the REST schemas refuse a URL carrying ``user:password@`` (or ``token@``).

Before, ``schemas.Url`` took any ``http(s)://`` text: a vendor website or an app base URL with
credentials passed the request validation (the repository refused them later, since review 10
#5). Now the schema refuses them: 422 problem+json naming the field, the value never echoed.
"""

from __future__ import annotations

import pydantic
import pytest

from ringfence.api.schemas import AppCreate, AppPatch, VendorCreate, VendorPatch
from tests.api.conftest import Api

WITH_USERINFO = [
    "https://admin:hunter2pw@acme.example/",
    "https://hunter2pw@acme.example",
    "http://user:hunter2pw@acme.example:8443/path?q=1",
    "https://:hunter2pw@acme.example",
]


@pytest.mark.parametrize("url", WITH_USERINFO)
def test_the_schemas_refuse_a_url_with_userinfo(url: str) -> None:
    for model, data in (
        (VendorCreate, {"name": "Acme", "website": url}),
        (VendorPatch, {"website": url}),
        (AppCreate, {"name": "crm", "vendor": "Acme", "base_urls": [url]}),
        (AppPatch, {"base_urls": ["https://ok.example", url]}),
    ):
        with pytest.raises(pydantic.ValidationError) as info:
            model.model_validate(data)
        assert "user name, password or token" in str(info.value)


@pytest.mark.parametrize(
    "url",
    ["https://acme.example", "https://acme.example:8443/users/@team?at=a@b#x@y", "http://a.b/@"],
)
def test_an_at_sign_outside_the_host_part_is_fine(url: str) -> None:
    assert VendorCreate.model_validate({"name": "Acme", "website": url}).website == url


def test_the_api_answers_422_naming_the_field_without_echoing_it(api: Api) -> None:
    r = api.post("/api/v1/vendors", json={"name": "Acme", "website": WITH_USERINFO[0]})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "validation_error"
    assert [e["field"] for e in body["errors"]] == ["website"]
    assert "hunter2pw" not in r.text
    assert api.post("/api/v1/vendors", json={"name": "Acme"}).status_code == 201
    r = api.post(
        "/api/v1/apps",
        json={"name": "crm", "vendor": "Acme", "base_urls": [WITH_USERINFO[1]]},
    )
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["base_urls.0"]
    assert "hunter2pw" not in r.text
