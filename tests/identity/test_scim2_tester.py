"""scim2-tester (the python-scim project's conformance checker) runs against our server."""

from __future__ import annotations

from fastapi.testclient import TestClient
from scim2_tester import Status, check_server

from tests.identity.scim_client import HttpxSCIMClient

# Checks we consider wrong and exclude (see docs/identity.md): none today. Keep the mechanism
# explicit so an exclusion is a reviewed decision, never a silent skip.
EXCLUDED: dict[str, str] = {}
# Deliberate deviations, by exact failure: a PATCH `remove` of `active` changes nothing (a
# security product never reactivates a leaver because an attribute was left out; review 9),
# so when the tester's random user was created inactive it still reads active=false after
# the removal. Any other failure of the check still fails this test.
DEVIATIONS = frozenset(
    {"check_remove_attribute [User]: PATCH modify() did not remove attribute 'active'"}
)


def test_scim2_tester_checks_all_pass(scim: TestClient) -> None:
    base = TestClient(
        scim.app,
        base_url="https://rf.example/scim/v2",
        headers={"Authorization": scim.headers["authorization"]},
    )
    results = check_server(HttpxSCIMClient(base))
    assert len(results) > 100  # discovery, CRUD and PATCH checks for User and Group all ran
    titles = {r.title for r in results}
    assert {"check_add_attribute", "check_replace_attribute", "check_remove_attribute"} <= titles
    failures = [
        f"{r.title} [{r.resource_type}]: {r.reason}"
        for r in results
        if r.status not in (Status.SUCCESS, Status.SKIPPED) and r.title not in EXCLUDED
    ]
    assert [f for f in failures if f not in DEVIATIONS] == []
    skipped = [r.title for r in results if r.status == Status.SKIPPED]
    assert skipped == []
