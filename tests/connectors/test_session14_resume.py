"""Session 14: audit pulls that resume by time.

Office 365 Management Activity API: every call carries ``PublisherIdentifier``; a pull resumes
per content type from its checkpoint by ``contentCreated`` windows (at most 24 hours each,
7 days back), re-listing an overlap and skipping blobs by ``contentId``. Google Reports API:
a pull re-reads an overlap margin before its checkpoint and skips events by
``id.uniqueQualifier`` + ``id.time``, so late events are read once and nothing twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ringfence.connectors import (
    AuditCheckpoint,
    AuditPullReport,
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
from ringfence.demo.fakes.microsoft365 import TENANT
from ringfence.runtime import Runtime
from tests.connectors.conftest import Sleeps

NOW = datetime(2026, 1, 1, tzinfo=UTC)  # the fakes' incidents: 2025-12-31T12:00Z


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
    server: RunningFake, vendor: str, sleeps: Sleeps, now: datetime = NOW, **extra: str
) -> Connector:
    base_url, options = connector_settings(vendor, server.url, "env:RF_TEST_SAAS_TOKEN")
    return build_connector(
        ConnectorConfig(
            vendor=vendor,
            base_url=base_url,
            credential_ref="env:RF_TEST_SAAS_TOKEN",
            options={**options, **extra},
            page_size=2,
            max_retries=3,
        ),
        sleep=sleeps,
        clock=FixedClock(now),
    )


def _pull(
    conn: Connector,
    stream: str,
    checkpoint: AuditCheckpoint | None = None,
    **kw: object,
) -> tuple[list[dict[str, object]], AuditPullReport]:
    records: list[dict[str, object]] = []
    report = conn.audit_stream(stream, records.extend, checkpoint=checkpoint, **kw)  # type: ignore[arg-type]
    assert report.records == len(records)
    return records, report


def _mgmt_time(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S")


def _download(fake: Microsoft365Fake, when: datetime, available: datetime | None = None) -> None:
    fake.add_management_record(
        "Audit.SharePoint",
        {
            "CreationTime": _mgmt_time(when),
            "RecordType": 6,
            "Operation": "FileDownloaded",
            "Workload": "SharePoint",
            "UserId": "amara@northwind-analytics.example",
            "ClientIP": "203.0.113.66",
        },
        available=_mgmt_time(available) if available else None,
    )


# -- Office 365 Management Activity API -----------------------------------------------------
def test_every_management_call_sends_the_publisher_identifier(
    microsoft: RunningFake, sleeps: Sleeps, fake_token: str
) -> None:
    fake = microsoft.fake
    assert isinstance(fake, Microsoft365Fake)
    with _connect(microsoft, "microsoft365", sleeps) as conn:
        records, report = _pull(conn, "management")
    assert report.error is None and len(records) == 61
    # list, 2 subscription starts, 3 listings (one NextPageUri), 4 blobs: all with the tenant
    assert len(fake.publisher_ids) == 10
    assert set(fake.publisher_ids) == {TENANT}
    fake.publisher_ids.clear()
    guid = "9f3c2a1e-0b7d-4c55-8e21-3a6f0d9b1c42"
    with _connect(microsoft, "microsoft365", sleeps, management_publisher_id=guid) as conn:
        records, report = _pull(conn, "management")
    assert report.error is None and len(records) == 61
    assert fake.publisher_ids and set(fake.publisher_ids) == {guid}


def test_management_resumes_by_content_created_and_skips_blobs_read(
    microsoft: RunningFake, sleeps: Sleeps, fake_token: str
) -> None:
    fake = microsoft.fake
    assert isinstance(fake, Microsoft365Fake)
    # a blob made available 10 minutes before the first pull: read by it, in the overlap
    _download(fake, NOW - timedelta(minutes=12), available=NOW - timedelta(minutes=10))
    with _connect(microsoft, "microsoft365", sleeps) as conn:
        first, report = _pull(conn, "management")
    assert report.error is None and len(first) == 62
    cp = report.checkpoint
    assert cp is not None and cp.until == {
        "Audit.AzureActiveDirectory": NOW,
        "Audit.SharePoint": NOW,
    }
    # An event of two days ago that Microsoft makes available only now: its contentCreated
    # is after the checkpoint, its CreationTime long before it.
    _download(fake, NOW - timedelta(days=2), available=NOW + timedelta(minutes=20))
    fake.content_windows.clear()
    later = NOW + timedelta(hours=1)
    with _connect(microsoft, "microsoft365", sleeps, now=later) as conn:
        second, report = _pull(conn, "management", cp)
    assert report.error is None
    assert [r["CreationTime"] for r in second] == [_mgmt_time(NOW - timedelta(days=2))]
    assert report.duplicates == 1  # the blob of 10 minutes before NOW, listed again
    # each content type listed from its checkpoint less the hour of overlap, to now
    start = (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert {(w[1], w[2]) for w in fake.content_windows} == {(start, _mgmt_time(later))}
    assert report.checkpoint is not None
    assert set(report.checkpoint.until.values()) == {later}


def test_management_checkpoint_covers_only_windows_listed_to_the_end(
    microsoft: RunningFake, sleeps: Sleeps, fake_token: str
) -> None:
    # three 24-hour windows; the seeded blobs are in the last; stop after one blob
    with _connect(microsoft, "microsoft365", sleeps) as conn:
        first, report = _pull(conn, "management", since=NOW - timedelta(days=3), max_pages=1)
    assert len(first) == 1  # the Azure AD blob
    cp = report.checkpoint
    assert cp is not None
    assert cp.until == {"Audit.AzureActiveDirectory": NOW - timedelta(days=1)}
    with _connect(microsoft, "microsoft365", sleeps) as conn:
        second, report = _pull(conn, "management", cp)
    assert report.error is None and report.duplicates == 1
    assert len(first) + len(second) == 61  # everything once, nothing twice


def test_management_publisher_id_option_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    for value, problem in (
        ("'not-a-guid'", "must be a tenant GUID"),
        ("'9f3c2a1e-0b7d-4c55-8e21-3a6f0d9b1c42'", "needs management_base_url"),
    ):
        base = (
            "management_base_url: 'https://manage.office.com/api/v1.0/t/activity/feed', "
            "management_credential_ref: 'vault:m', "
            if "GUID" in problem
            else ""
        )
        path.write_text(
            "connectors:\n  - {vendor: microsoft365, base_url: 'https://graph.microsoft.com/v1.0',"
            f" credential: env:T, options: {{{base}management_publisher_id: {value}}}}}\n"
        )
        with pytest.raises(ValidationError, match=problem):
            load_connector_configs(path)


# -- Google Reports API -----------------------------------------------------------------------
def _login(fake: GoogleWorkspaceFake, when: datetime) -> None:
    fake.add_activity(
        "login",
        "login_success",
        {"login_type": "google_password"},
        event_type="login",
        actor="amara@northwind-analytics.example",
        when=when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    )


def test_google_reads_a_late_event_once_thanks_to_the_overlap(
    google: RunningFake, sleeps: Sleeps, fake_token: str
) -> None:
    fake = google.fake
    assert isinstance(fake, GoogleWorkspaceFake)
    _login(fake, NOW - timedelta(minutes=30))
    with _connect(google, "google_workspace", sleeps) as conn:
        first, report = _pull(conn, "login")
    assert report.error is None and len(first) == 6
    cp = report.checkpoint
    assert cp is not None and cp.until == {"": NOW}
    # Google delivers, an hour later, a sign-in that happened two hours before the checkpoint
    _login(fake, NOW - timedelta(hours=2))
    later = NOW + timedelta(hours=1)
    with _connect(google, "google_workspace", sleeps, now=later) as conn:
        second, report = _pull(conn, "login", cp)
    assert report.error is None
    assert [a["id"]["time"] for a in second] == ["2025-12-31T22:00:00.000Z"]  # type: ignore[index]
    # re-read from checkpoint - 6 h (the default overlap): the 12:00 incident is older, the
    # 23:30 sign-in is inside and skipped by id
    assert report.duplicates == 1
    assert report.checkpoint is not None and report.checkpoint.until == {"": later}


def test_without_an_overlap_the_late_event_would_be_missed(
    google: RunningFake, sleeps: Sleeps, fake_token: str
) -> None:
    fake = google.fake
    assert isinstance(fake, GoogleWorkspaceFake)
    with _connect(google, "google_workspace", sleeps, audit_overlap_minutes="0") as conn:
        _, report = _pull(conn, "login")
    _login(fake, NOW - timedelta(hours=2))
    with _connect(
        google, "google_workspace", sleeps, now=NOW + timedelta(hours=1), audit_overlap_minutes="0"
    ) as conn:
        second, _ = _pull(conn, "login", report.checkpoint)
    assert second == []


def test_google_partial_pull_keeps_its_checkpoint_and_ids(
    google: RunningFake, sleeps: Sleeps, fake_token: str
) -> None:
    google.fake.faults.arm("server_error", "activities", page=2, times=10)
    with _connect(google, "google_workspace", sleeps) as conn:
        first, report = _pull(conn, "login")
    assert report.error is not None and len(first) == 2
    cp = report.checkpoint
    assert cp is not None and cp.until == {} and len(cp.seen) == 2
    google.fake.faults.armed.clear()
    with _connect(google, "google_workspace", sleeps) as conn:
        second, report = _pull(conn, "login", cp)
    assert report.error is None and report.duplicates == 2
    assert len(first) + len(second) == 5


@pytest.mark.parametrize("value", ["'abc'", "'-5'", "'100000'", "'1.5'"])
def test_google_overlap_option_is_checked(tmp_path: Path, value: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "connectors:\n  - {vendor: google_workspace, base_url: 'https://admin.googleapis.com',"
        f" credential: env:T, options: {{audit_overlap_minutes: {value}}}}}\n"
    )
    with pytest.raises(ValidationError, match="audit_overlap_minutes must be a whole number"):
        load_connector_configs(path)


# -- ringfence connectors audit: checkpoints saved in the data directory ----------------------
def test_the_cli_resumes_each_log_from_its_saved_checkpoint(
    runtime: Runtime,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.connectors.test_session13_audit_streams import _audit, _recent

    gserver, mserver = serve(GoogleWorkspaceFake()), serve(Microsoft365Fake())
    try:
        for server in (gserver, mserver):
            server.fake.seed_audit_incident(_recent())  # type: ignore[attr-defined]
        servers = {"google_workspace": gserver, "microsoft365": mserver}
        _, first, _ = _audit(runtime, servers, tmp_path, capsys, monkeypatch)
        assert {r["vendor"]: r["records"] for r in first} == {
            "google_workspace": 13,
            "microsoft365": 79,
        }
        saved = runtime.settings.data_dir / "connectors" / "audit-checkpoints.json"
        assert saved.stat().st_mode & 0o777 == 0o600
        keys = set(json.loads(saved.read_text()))
        assert {k.rsplit("|", 1)[1] for k in keys} == {"token", "admin", "login", "management"}
        _, second, _ = _audit(runtime, servers, tmp_path, capsys, monkeypatch)
        by_vendor = {r["vendor"]: r for r in second}
        # Google re-read its overlap and skipped it all; the Management Activity API skipped
        # its blobs by contentId; Graph's logs do not resume (monitoring keeps them once)
        assert by_vendor["google_workspace"]["records"] == 0
        # admin 3 + login 5 (two hours old) re-read in the 6-hour overlap and skipped; the
        # token activity is a day old, before it: not asked for again
        assert by_vendor["google_workspace"]["duplicates"] == 8
        assert by_vendor["microsoft365"]["streams"] == "directoryAudits 5, signIns 13, management 0"
        # its blobs (two hours old) are before the hour of overlap: not even listed again
        assert by_vendor["microsoft365"]["duplicates"] == 0
        # --since is a backfill: everything from then, whatever the checkpoint says
        since = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
        _, fourth, _ = _audit(
            runtime, {"google_workspace": gserver}, tmp_path, capsys, monkeypatch,
            management=False, extra=("--since", since),
        )  # fmt: skip
        assert fourth[0]["records"] == 8 and fourth[0]["duplicates"] == 0
        # a damaged checkpoint file is each resuming log's error, never a fresh start
        saved.write_text("{not json")
        _, third, _ = _audit(
            runtime, {"google_workspace": gserver}, tmp_path, capsys, monkeypatch,
            management=False, expect_partial=True, partial_vendor="google_workspace",
        )  # fmt: skip
        assert "is not a checkpoint file" in str(third[0]["error"])
        assert third[0]["records"] == 0
    finally:
        gserver.stop()
        mserver.stop()


# -- the checkpoint file -----------------------------------------------------------------------
def test_file_checkpoints_round_trip_privately_and_refuse_damage(tmp_path: Path) -> None:
    from ringfence.connectors import FileCheckpoints, checkpoint_key
    from ringfence.core.errors import ConfigError

    store = FileCheckpoints.in_data_dir(tmp_path)
    key = checkpoint_key("google_workspace", "https://admin.googleapis.com/", "login")
    assert store.load(key) is None  # no file yet: nothing saved, a first pull
    cp = AuditCheckpoint(until={"": NOW}, seen={"42@2026-01-01T00:00:00Z": NOW})
    store.save(key, cp)
    store.save("other|x|y", AuditCheckpoint())
    assert store.load(key) == cp
    assert store.path.stat().st_mode & 0o777 == 0o600
    assert "42@" in store.path.read_text() and "token" not in store.path.read_text()
    for damage, problem in (
        ("[1, 2]", "is not a checkpoint file"),
        (json.dumps({key: {"until": {"": "yesterday"}}}), "is not a time with a zone"),
        (json.dumps({key: {"until": {}, "records": []}}), "expected an object"),
    ):
        store.path.write_text(damage)
        with pytest.raises(ConfigError, match=problem):
            store.load(key)
        if not damage.startswith("{"):
            with pytest.raises(ConfigError):  # never overwrites a file it cannot read
                store.save(key, cp)
            assert store.path.read_text() == damage
    # a damaged entry is replaced by the next save of that log; the others stay
    store.save(key, cp)
    assert store.load(key) == cp


def test_a_checkpoint_keeps_only_the_ids_a_re_read_can_reach() -> None:
    from ringfence.connectors._model import MAX_CHECKPOINT_IDS

    cp = AuditCheckpoint(
        seen={f"{i}": NOW - timedelta(minutes=i) for i in range(MAX_CHECKPOINT_IDS + 10)}
    )
    cp.prune(NOW - timedelta(minutes=100))
    assert set(cp.seen) == {str(i) for i in range(101)}
    cp = AuditCheckpoint(
        seen={f"{i}": NOW - timedelta(seconds=i) for i in range(MAX_CHECKPOINT_IDS + 10)}
    )
    cp.prune(NOW - timedelta(days=30))
    assert len(cp.seen) == MAX_CHECKPOINT_IDS and "0" in cp.seen  # the newest kept


def test_a_checkpoint_older_than_the_vendor_keeps_is_reported_as_a_gap(
    microsoft: RunningFake, google: RunningFake, sleeps: Sleeps, fake_token: str
) -> None:
    old = AuditCheckpoint(
        until={"": NOW - timedelta(days=200), "Audit.SharePoint": NOW - timedelta(days=9)}
    )
    with _connect(
        microsoft, "microsoft365", sleeps, management_content_types="Audit.SharePoint"
    ) as conn:
        records, report = _pull(conn, "management", old)
    assert report.error is None and len(records) == 60  # what is still kept is read
    [gap] = report.gaps
    assert "Audit.SharePoint: checkpoint 2025-12-23T00:00:00Z is older than the 7 days" in gap
    assert report.checkpoint is not None and report.checkpoint.until["Audit.SharePoint"] == NOW
    with _connect(google, "google_workspace", sleeps) as conn:
        _, report = _pull(conn, "login", old)
    assert report.error is None and len(report.gaps) == 1
    assert "older than the 180 days Google keeps" in report.gaps[0]
    with _connect(google, "google_workspace", sleeps) as conn:  # the next pull: no gap
        _, again = _pull(conn, "login", report.checkpoint)
    assert again.gaps == []
