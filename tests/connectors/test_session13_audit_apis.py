"""Session 13: the extra audit pulls speak each API as documented — Google Reports API
``activities.list`` per application (``startTime``, ``nextPageToken``, 403 quota errors),
Graph ``auditLogs/signIns`` (``$filter``, ``@odata.nextLink``, 429 + ``Retry-After``) and the
Office 365 Management Activity API (subscriptions, ``subscriptions/content`` in windows of at
most 24 hours within the 7 days kept, ``NextPageUri``, content blobs) — against the fakes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ringfence.connectors import (
    Connector,
    ConnectorConfig,
    build_connector,
    load_connector_configs,
)
from ringfence.core.clock import FixedClock
from ringfence.core.errors import ValidationError
from ringfence.demo.fakes import (
    GoogleWorkspaceFake,
    Microsoft365Fake,
    RunningFake,
    connector_settings,
    serve,
)
from tests.connectors.conftest import Sleeps

# the fakes' incidents are seeded at 2025-12-31T12:00Z (``when=-0.5``)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def google() -> Iterator[RunningFake]:
    server = serve(GoogleWorkspaceFake())
    assert isinstance(server.fake, GoogleWorkspaceFake)
    server.fake.seed_audit_incident()
    yield server
    server.stop()


@pytest.fixture
def microsoft() -> Iterator[RunningFake]:
    server = serve(Microsoft365Fake())
    assert isinstance(server.fake, Microsoft365Fake)
    server.fake.seed_audit_incident()
    yield server
    server.stop()


def _connect(
    server: RunningFake, vendor: str, sleeps: Sleeps, *, page_size: int = 2, **extra: str
) -> Connector:
    base_url, options = connector_settings(vendor, server.url, "env:RF_TEST_SAAS_TOKEN")
    return build_connector(
        ConnectorConfig(
            vendor=vendor,
            base_url=base_url,
            credential_ref="env:RF_TEST_SAAS_TOKEN",
            options={**options, **extra},
            page_size=page_size,
            max_retries=3,
        ),
        sleep=sleeps,
        clock=FixedClock(NOW),
    )


def _pull(conn: Connector, stream: str, since: datetime | None = None) -> list[dict[str, object]]:
    records: list[dict[str, object]] = []
    report = conn.audit_stream(stream, records.extend, since=since)
    assert report.error is None, report.error
    assert report.records == len(records)
    return records


# -- Google Reports API --------------------------------------------------------------------
def test_google_reads_token_admin_and_login_by_default(
    google: RunningFake, sleeps: Sleeps, fake_token: str
) -> None:
    with _connect(google, "google_workspace", sleeps) as conn:
        assert [s.name for s in conn.audit_streams()] == ["token", "admin", "login"]
        assert {s.source for s in conn.audit_streams()} == {"google_workspace"}
        admin = _pull(conn, "admin")
        login = _pull(conn, "login")
    names = [e["name"] for a in admin for e in a["events"]]  # type: ignore[attr-defined]
    assert sorted(names) == ["ASSIGN_ROLE", "GRANT_ADMIN_PRIVILEGE", "TURN_OFF_2_STEP_VERIFICATION"]
    assert len(login) == 5
    pages = [q for m, q in google.fake.requests if q.endswith("/applications/admin")]
    assert len(pages) == 2  # 3 activities, maxResults 2: followed nextPageToken once


def test_google_since_is_sent_as_start_time(
    google: RunningFake, sleeps: Sleeps, fake_token: str
) -> None:
    with _connect(google, "google_workspace", sleeps) as conn:
        later = _pull(conn, "login", since=datetime(2025, 12, 31, 12, 5, 30, tzinfo=UTC))
    assert [a["id"]["time"] for a in later] == [  # type: ignore[index]
        "2025-12-31T12:07:00.000Z",
        "2025-12-31T12:06:00.000Z",
    ]


def test_google_quota_error_on_an_audit_stream_is_waited_out(
    google: RunningFake, sleeps: Sleeps, fake_token: str
) -> None:
    google.fake.faults.arm("rate_limit", "activities", page=2)
    with _connect(google, "google_workspace", sleeps) as conn:
        assert len(_pull(conn, "admin")) == 3
    assert google.fake.faults.fired == [("rate_limit", "activities", 2)] and sleeps == [0.5]


def test_google_audit_applications_option(
    google: RunningFake, sleeps: Sleeps, fake_token: str, tmp_path: Path
) -> None:
    with _connect(google, "google_workspace", sleeps, audit_applications="admin, drive") as c:
        assert [s.name for s in c.audit_streams()] == ["admin", "drive"]
    path = tmp_path / "c.yaml"

    def load(apps: str) -> list[ConnectorConfig]:
        path.write_text(
            "connectors:\n  - {vendor: google_workspace, base_url: 'https://admin.googleapis.com',"
            f" credential: env:T, options: {{audit_applications: '{apps}'}}}}\n"
        )
        return load_connector_configs(path)

    with pytest.raises(
        ValidationError, match=r"unknown application 'logins' \(did you mean 'login'"
    ):
        load("admin,logins")
    for bad in ("../admin", "Admin", " , "):
        with pytest.raises(ValidationError, match="audit_applications"):
            load(bad)
    # an application Google added after this list was written is passed through
    [cfg] = load("admin,meet_hardware")
    assert cfg.options["audit_applications"] == "admin,meet_hardware"


# -- Graph sign-ins ------------------------------------------------------------------------
def test_graph_sign_ins_page_and_filter_on_created_time(
    microsoft: RunningFake, sleeps: Sleeps, fake_token: str
) -> None:
    with _connect(microsoft, "microsoft365", sleeps, page_size=5) as conn:
        assert [(s.name, s.source) for s in conn.audit_streams()] == [
            ("directoryAudits", "entra"),
            ("signIns", "entra"),
            ("management", "m365"),
        ]
        every = _pull(conn, "signIns")
        later = _pull(conn, "signIns", since=datetime(2025, 12, 31, 12, 0, 30, tzinfo=UTC))
    assert len(every) == 13 and sum(1 for r in every if r["status"]["errorCode"]) == 12  # type: ignore[index]
    assert len(later) == 7  # 12:00:30 .. 12:00:55 (6 failures) and the 12:01:05 success
    assert sum(1 for _, p in microsoft.fake.requests if p.endswith("/signIns")) == 3 + 2


def test_graph_sign_ins_throttling_is_honoured(
    microsoft: RunningFake, sleeps: Sleeps, fake_token: str
) -> None:
    microsoft.fake.faults.arm("rate_limit", "signIns", page=2)
    with _connect(microsoft, "microsoft365", sleeps, page_size=5) as conn:
        assert len(_pull(conn, "signIns")) == 13
    assert sleeps == [2.0]  # Retry-After: 2


# -- Office 365 Management Activity API ------------------------------------------------------
def test_management_api_starts_subscriptions_and_reads_content_blobs(
    microsoft: RunningFake, sleeps: Sleeps, fake_token: str
) -> None:
    fake = microsoft.fake
    with _connect(microsoft, "microsoft365", sleeps) as conn:
        records = _pull(conn, "management")
    assert len(records) == 61
    assert {r["Workload"] for r in records} == {"AzureActiveDirectory", "SharePoint"}
    assert ("start_subscription", "Audit.AzureActiveDirectory") in fake.actions
    # 60 SharePoint records: 3 blobs, 2 blob links per listing → one NextPageUri followed
    listings = [p for _, p in fake.requests if p.endswith("/subscriptions/content")]
    assert len(listings) == 3  # AzureActiveDirectory once, SharePoint twice
    with _connect(microsoft, "microsoft365", sleeps) as conn:
        assert len(_pull(conn, "management")) == 61
    assert sum(1 for a, _ in fake.actions if a == "start_subscription") == 2  # not again


def test_management_api_walks_since_in_24_hour_windows_within_7_days(
    microsoft: RunningFake, sleeps: Sleeps, fake_token: str
) -> None:
    fake = microsoft.fake
    with _connect(
        microsoft, "microsoft365", sleeps, management_content_types="Audit.SharePoint"
    ) as conn:
        assert len(_pull(conn, "management", since=NOW - timedelta(days=30))) == 60
    listings = [p for _, p in fake.requests if p.endswith("/subscriptions/content")]
    # 7 days less 5 minutes: 7 windows of at most 24 hours (plus one NextPageUri)
    assert len(listings) == 7 + 1


def test_management_api_error_is_reported_with_its_code(
    microsoft: RunningFake, sleeps: Sleeps, fake_token: str
) -> None:
    microsoft.fake.faults.arm("server_error", "content", page=1, times=10)
    with _connect(microsoft, "microsoft365", sleeps) as conn:
        report = conn.audit_stream("management", lambda page: None)
    assert report.error is not None and "after 4 attempts" in str(report.error)


def test_a_content_uri_on_another_host_is_refused(
    microsoft: RunningFake, sleeps: Sleeps, fake_token: str
) -> None:
    fake = microsoft.fake
    assert isinstance(fake, Microsoft365Fake)
    fake.content_base = "https://attacker.example"
    with _connect(microsoft, "microsoft365", sleeps) as conn:
        report = conn.audit_stream("management", lambda page: None)
    assert report.error is not None and "foreign host attacker.example" in str(report.error)
    assert not any(p.endswith("/audit") or "/audit/" in p for _, p in fake.requests)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("{management_base_url: 'https://manage.office.com/api/v1.0/t/activity/feed'}",
         "go together"),
        ("{management_credential_ref: 'vault:o365-mgmt'}", "go together"),
        ("{management_base_url: 'https://manage.office.com/api/v1.0/t/activity/feed',"
         " management_credential_ref: 'vault:m', management_content_types: 'Audit.Sharepoint'}",
         r"unknown content type\(s\) Audit.Sharepoint"),
        ("{management_base_url: 'http://manage.office.com/x',"
         " management_credential_ref: 'vault:m'}", "plaintext"),
        ("{management_base_url: 'https://manage.office.com/x',"
         " management_credential_ref: 'env:RINGFENCE_MASTER_KEY'}", "Ringfence's own"),
    ],
)  # fmt: skip
def test_management_options_are_checked_when_the_file_is_read(
    tmp_path: Path, options: str, message: str
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "connectors:\n  - {vendor: microsoft365, base_url: 'https://graph.microsoft.com/v1.0',"
        f" credential: env:T, options: {options}}}\n"
    )
    with pytest.raises(ValidationError, match=message):
        load_connector_configs(path)


def test_the_permissions_table_names_the_audit_scopes() -> None:
    from ringfence.connectors.permissions import PERMISSIONS

    google = " ".join(PERMISSIONS["google_workspace"].read)
    assert "admin.reports.audit.readonly (Reports API activities: token, admin, login" in google
    graph = PERMISSIONS["microsoft365"].read
    assert any(p.startswith("AuditLog.Read.All (directoryAudits, signIns") for p in graph)
    assert any(p.startswith("ActivityFeed.Read of the Office 365 Management APIs") for p in graph)
