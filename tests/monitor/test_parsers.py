from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ringfence.core.errors import ValidationError
from ringfence.monitor.events import Event
from ringfence.monitor.parsers import PARSERS, RecordError, parser_for
from tests.monitor import records as R

T0 = datetime(2026, 1, 5, 9, 12, 43, tzinfo=UTC)


def one(source: str, rec: Any) -> Event:
    events = parser_for(source)(rec)
    assert len(events) == 1
    return events[0]


def test_okta_login_is_authentication_with_location() -> None:
    e = one("okta", R.okta())
    assert (e.class_uid, e.activity_id, e.ocsf["type_uid"]) == (3002, 1, 300201)
    assert e.actor == "admin@example.com" and e.src_ip == "198.51.100.23"
    assert e.time == T0.replace(microsecond=213000)
    assert e.ocsf["src_endpoint"]["location"]["coordinates"] == [13.405, 52.52]
    assert e.ocsf["src_endpoint"]["autonomous_system"]["number"] == 3320
    assert e.status_id == 1 and e.raw["uuid"] == "dc9fd3c0-598c-11ef-8478-2b7584bf8d5a"
    assert (e.product, e.service) == ("okta", "okta")


@pytest.mark.parametrize(
    ("event_type", "class_uid"),
    [
        ("user.mfa.factor.deactivate", 3001),
        ("user.account.privilege.grant", 3005),
        ("group.user_membership.add", 3006),
        ("app.oauth2.as.consent.grant", 3005),
        ("system.api_token.create", 6003),
    ],
)
def test_okta_event_types_map_to_classes(event_type: str, class_uid: int) -> None:
    e = one("okta", R.okta(event_type))
    assert e.class_uid == class_uid
    if class_uid in (3001, 3005, 3006):
        assert e.ocsf["user"]["email_addr"] == "bob@example.com"


def test_okta_failure_outcome() -> None:
    e = one("okta", R.okta(outcome={"result": "FAILURE", "reason": "INVALID_CREDENTIALS"}))
    assert e.status_id == 2 and e.ocsf["status_detail"] == "INVALID_CREDENTIALS"


def test_same_record_gives_same_event_id() -> None:
    assert one("okta", R.okta()).id == one("okta", R.okta()).id
    assert one("okta", R.okta()).id != one("okta", R.okta(uuid="other")).id


def test_github_entries() -> None:
    e = one("github", R.github())
    assert e.class_uid == 3006 and e.actor == "octocat"
    assert e.time == T0 and e.ocsf["src_endpoint"]["location"]["country"] == "US"
    pat = one(
        "github", R.github("personal_access_token.access_granted", token_scopes="repo,admin:org")
    )
    assert pat.class_uid == 3005 and pat.ocsf["privileges"] == ["repo", "admin:org"]
    zipdl = one("github", R.github("repo.download_zip", repo="octo-corp/secret"))
    assert zipdl.class_uid == 6006 and zipdl.ocsf["file"]["name"] == "octo-corp/secret"
    other = one("github", R.github("repo.create", repo="octo-corp/new"))
    assert other.class_uid == 6003 and other.ocsf["api"]["operation"] == "repo.create"


def test_github_entry_without_document_id_hashes_the_record() -> None:
    rec = R.github()
    del rec["_document_id"]
    assert one("github", rec).id == one("github", R.clone(rec)).id


def test_google_activity_with_several_events_yields_several() -> None:
    rec = R.google()
    rec["events"].append(
        {
            "type": "USER_SETTINGS",
            "name": "TURN_OFF_2_STEP_VERIFICATION",
            "parameters": [{"name": "USER_EMAIL", "value": "carol@example.com"}],
        }
    )
    events = parser_for("google_workspace")(rec)
    assert [e.class_uid for e in events] == [3005, 3001]
    assert events[0].id != events[1].id
    assert events[0].ocsf["privileges"] == ["_SEED_ADMIN_ROLE"]
    assert events[1].ocsf["unmapped"]["parameters"]["USER_EMAIL"] == "carol@example.com"
    assert events[0].service == "google_workspace.admin"


def test_google_token_authorize_carries_scopes() -> None:
    rec = R.google("token", "authorize")
    rec["events"][0]["parameters"] = [
        {"name": "client_id", "value": "1234.apps.googleusercontent.com"},
        {"name": "app_name", "value": "Shady Sync"},
        {"name": "scope", "multiValue": ["https://mail.google.com/", "openid"]},
    ]
    e = one("google_workspace", rec)
    assert e.class_uid == 3005 and e.ocsf["privileges"] == ["https://mail.google.com/", "openid"]
    assert e.ocsf["resource"]["name"] == "Shady Sync"


def test_google_login_failure() -> None:
    e = one("google_workspace", R.google("login", "login_failure", login_type="google_password"))
    assert e.class_uid == 3002 and e.status_id == 2


def test_m365_role_and_file_and_login() -> None:
    role = one("m365", R.m365())
    assert role.class_uid == 3005 and role.ocsf["privileges"] == ["Global Administrator"]
    assert role.time == T0 and role.service == "azureactivedirectory"
    dl = one(
        "m365",
        R.m365(
            "FileDownloaded",
            Workload="SharePoint",
            SourceFileName="pay.xlsx",
            ClientIP="[2001:db8::1]:443",
        ),
    )
    assert dl.class_uid == 6006 and dl.src_ip == "2001:db8::1"
    fail = one("m365", R.m365("UserLoginFailed", ResultStatus="Failed"))
    assert fail.class_uid == 3002 and fail.status_id == 2


def test_entra_audit_and_signin() -> None:
    a = one("entra", R.entra_audit())
    assert a.class_uid == 3005 and a.service == "auditlogs"
    assert a.ocsf["privileges"] == ["Mail.Read Files.ReadWrite.All offline_access"]
    assert a.time.microsecond == 213456
    s = one("entra", R.entra_signin())
    assert s.class_uid == 3002 and s.service == "signinlogs" and s.status_id == 1
    assert one("entra", R.entra_signin(50126)).status_id == 2


def test_slack_app_install_with_scopes() -> None:
    e = one("slack", R.slack())
    assert e.class_uid == 3005 and "admin" in e.ocsf["privileges"]
    assert e.actor == "bird@example.com" and e.time == T0


def test_gateway_audit_event_is_http_activity() -> None:
    e = one("ringfence", R.gateway())
    assert (e.class_uid, e.activity_id) == (4002, 3)
    assert e.ocsf["http_response"]["code"] == 200
    assert e.ocsf["unmapped"]["dlp_detectors"] == ["email"]
    assert e.actor == "crm-sync" and e.src_ip == "10.1.2.3"
    denied = one("ringfence", R.gateway(403))
    assert denied.status_id == 2 and denied.action == "deny"


MALFORMED: list[tuple[str, Any, str]] = [
    ("okta", [1, 2], "must be a JSON object"),
    ("okta", {k: v for k, v in R.okta().items() if k != "uuid"}, "'uuid'"),
    ("okta", R.okta(published="yesterday"), "unparseable timestamp"),
    ("okta", R.okta(target="bob"), "'target'"),
    ("github", R.github(action="nodot"), "not a GitHub audit action"),
    ("github", {"action": "org.add_member"}, "missing timestamp"),
    ("google_workspace", {**R.google(), "events": []}, "no 'events'"),
    ("google_workspace", {**R.google(), "id": {"time": "2026-01-01T00:00:00Z"}}, "applicationName"),
    ("m365", {**R.m365(), "RecordType": "eight"}, "RecordType"),
    ("m365", {k: v for k, v in R.m365().items() if k != "Workload"}, "'Workload'"),
    ("entra", {"hello": "world"}, "neither"),
    ("entra", R.entra_signin(status={"errorCode": "x"}), "errorCode"),
    ("slack", {**R.slack(), "actor": None}, "'actor'"),
    ("slack", {**R.slack(), "date_create": True}, "timestamp"),
    ("ringfence", {**R.gateway(), "status": "999"}, "status"),  # int 999 is kept (review 10 A7)
    ("ringfence", {k: v for k, v in R.gateway().items() if k != "request_id"}, "request id"),
]


@pytest.mark.parametrize(("source", "record", "reason"), MALFORMED)
def test_malformed_records_raise_record_error(source: str, record: Any, reason: str) -> None:
    with pytest.raises(RecordError, match=reason.replace("(", r"\(")):
        parser_for(source)(record)


def test_every_source_has_a_malformed_case() -> None:
    assert {s for s, _, _ in MALFORMED} == set(PARSERS)


def test_unknown_source_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="unknown source 'splunk'"):
        parser_for("splunk")
