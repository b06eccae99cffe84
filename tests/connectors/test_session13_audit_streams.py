"""Session 13 (docs verification, task 1): the connectors read every audit log the bundled
rules need, end to end.

``connectors audit`` read only Google's Reports API ``token`` activity and Graph's
``directoryAudits``: seven bundled rules got nothing from a connector — Google admin role
assigned and 2-step verification off (``admin`` activity), Entra failed sign-in and brute
force (``auditLogs/signIns``), and the three Microsoft 365 rules (Office 365 Management
Activity API). Each test here has the fake vendor emit the activity, runs the real command
(connector pull → monitoring ingest → rules) and looks for the rule's alert. The two base
rules of correlations (Entra failed sign-in, Microsoft 365 file download) raise no alert of
their own (``generate: false``, as Sigma correlations default): that they matched shows in the
correlation's alert and in matching the stored events against the bundled rules.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ringfence.cli import main
from ringfence.core.clock import FixedClock
from ringfence.demo.fakes import (
    GoogleWorkspaceFake,
    Microsoft365Fake,
    RunningFake,
    connectors_yaml,
    serve,
)
from ringfence.demo.fakes._seed import EPOCH_2026
from ringfence.monitor.alerts import AlertStore
from ringfence.monitor.sigma.engine import RuleSet
from ringfence.monitor.storage import EventStore, HuntQuery
from ringfence.runtime import Runtime

TOKEN_REF = "env:RF_TEST_SAAS_TOKEN"


def _recent() -> float:
    """Days from 2026-01-01 to two hours ago: the CLI reads with the real clock, and the
    Management Activity API lists only the last 24 hours without --since."""
    return (time.time() - EPOCH_2026) / 86400 - 2 / 24


@pytest.fixture
def google() -> Iterator[RunningFake]:
    server = serve(GoogleWorkspaceFake())
    yield server
    server.stop()


@pytest.fixture
def microsoft() -> Iterator[RunningFake]:
    server = serve(Microsoft365Fake())
    yield server
    server.stop()


def _audit(
    runtime: Runtime,
    servers: dict[str, RunningFake],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *,
    management: bool = True,
    expect_partial: bool = False,
    partial_vendor: str = "microsoft365",
    extra: tuple[str, ...] = (),
) -> tuple[int, list[dict[str, object]], set[str]]:
    monkeypatch.setenv("RF_TEST_SAAS_TOKEN", "test-token")
    config = tmp_path / "connectors.yaml"
    config.write_text(connectors_yaml(servers, TOKEN_REF, management=management))
    capsys.readouterr()
    try:
        main(["connectors", "audit", "-c", str(config), "-o", "json",
              "--data-dir", str(runtime.settings.data_dir), *extra])  # fmt: skip
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    rows = json.loads(out) if out.strip() else []
    alerts = AlertStore(runtime.store, FixedClock()).list(limit=500)
    assert code == (3 if expect_partial else 0), err
    if expect_partial:
        assert f"incomplete pull: {partial_vendor}" in err
    return code, rows, {a.rule_id for a in alerts}


def _matching(runtime: Runtime, source: str) -> dict[str, int]:
    """Bundled rule → how many stored events of ``source`` it matches."""
    rules = RuleSet.bundled()
    events = EventStore(runtime.store).hunt(HuntQuery(sources=[source], limit=1000))
    counts: dict[str, int] = {}
    for e in events:
        for r in rules.match(e):
            counts[r.key] = counts.get(r.key, 0) + 1
    return counts


def test_google_admin_activity_fires_the_admin_rules(
    runtime: Runtime,
    google: RunningFake,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = google.fake
    assert isinstance(fake, GoogleWorkspaceFake)
    fake.seed_audit_incident(_recent())
    _, rows, fired = _audit(runtime, {"google_workspace": google}, tmp_path, capsys, monkeypatch)
    assert {"rf_gws_admin_role_assigned", "rf_gws_2sv_disabled"} <= fired, fired
    assert "rf_gws_oauth_high_risk_scopes" in fired  # the token pull still works
    [row] = rows
    assert row["streams"] == "token 5, admin 3, login 5" and row["dead_lettered"] == 0
    assert row["records"] == 13 and row["events"] == 13
    paths = {p for _, p in fake.requests}
    assert {
        f"/admin/reports/v1/activity/users/all/applications/{app}"
        for app in ("token", "admin", "login")
    } <= paths


def test_entra_sign_ins_fire_failed_sign_in_and_brute_force(
    runtime: Runtime,
    microsoft: RunningFake,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = microsoft.fake
    assert isinstance(fake, Microsoft365Fake)
    fake.seed_audit_incident(_recent())
    # Graph only (no Management Activity API configured): sign-ins come from Graph
    _, rows, fired = _audit(
        runtime, {"microsoft365": microsoft}, tmp_path, capsys, monkeypatch, management=False
    )
    assert "rf_entra_bruteforce" in fired, fired
    assert _matching(runtime, "entra").get("rf_entra_failed_signin") == 12
    [row] = rows
    assert row["streams"] == "directoryAudits 5, signIns 13", row
    assert row["dead_lettered"] == 0 and row["error"] == ""


def test_all_three_microsoft_logs_are_read_in_one_pull(
    runtime: Runtime,
    microsoft: RunningFake,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = microsoft.fake
    assert isinstance(fake, Microsoft365Fake)
    fake.seed_audit_incident(_recent())
    _, rows, _ = _audit(runtime, {"microsoft365": microsoft}, tmp_path, capsys, monkeypatch)
    [row] = rows
    assert row["streams"] == "directoryAudits 5, signIns 13, management 61", row
    assert row["records"] == 79 and row["events"] == 79 and row["dead_lettered"] == 0


def test_management_activity_fires_the_microsoft_365_rules(
    runtime: Runtime,
    microsoft: RunningFake,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = microsoft.fake
    assert isinstance(fake, Microsoft365Fake)
    fake.seed_audit_incident(_recent())
    _, _, fired = _audit(runtime, {"microsoft365": microsoft}, tmp_path, capsys, monkeypatch)
    assert {"rf_m365_mfa_disabled", "rf_m365_mass_download"} <= fired, fired
    assert _matching(runtime, "m365").get("rf_m365_file_download") == 60
    # both content types were subscribed to (nothing was enabled in the fake tenant)
    assert ("start_subscription", "Audit.SharePoint") in fake.actions
    assert ("start_subscription", "Audit.AzureActiveDirectory") in fake.actions


def test_a_failing_log_does_not_stop_the_others(
    runtime: Runtime,
    microsoft: RunningFake,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A tenant without Entra ID P1 gets 403 on sign-ins: the directory audits and the
    Management Activity API are still read and analysed; the command exits 3 naming it."""
    fake = microsoft.fake
    assert isinstance(fake, Microsoft365Fake)
    fake.seed_audit_incident(_recent())
    fake.premium = False
    _, rows, fired = _audit(
        runtime, {"microsoft365": microsoft}, tmp_path, capsys, monkeypatch, expect_partial=True
    )
    [row] = rows
    assert row["streams"] == "directoryAudits 5, signIns 0, management 61", row
    assert str(row["error"]).startswith("signIns: microsoft365 signIns: HTTP 403: Neither")
    assert "rf_m365_mass_download" in fired and "rf_entra_bruteforce" not in fired


def test_an_unreadable_log_credential_is_that_logs_error(
    runtime: Runtime,
    microsoft: RunningFake,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The Management Activity API's own token unset: Graph's logs are still read and
    analysed, the row names the management log's problem, the command exits 3."""
    fake = microsoft.fake
    assert isinstance(fake, Microsoft365Fake)
    fake.seed_audit_incident(_recent())
    monkeypatch.setenv("RF_TEST_SAAS_TOKEN", "test-token")
    config = tmp_path / "connectors.yaml"
    config.write_text(
        connectors_yaml({"microsoft365": microsoft}, TOKEN_REF).replace(
            f"management_credential_ref: {TOKEN_REF}",
            "management_credential_ref: env:RF_TEST_NO_SUCH_TOKEN",
        )
    )
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["connectors", "audit", "-c", str(config), "-o", "json",
              "--data-dir", str(runtime.settings.data_dir)])  # fmt: skip
    out, err = capsys.readouterr()
    assert exc.value.code == 3 and "Traceback" not in err
    [row] = json.loads(out)
    assert row["streams"] == "directoryAudits 5, signIns 13, management 0", row
    assert row["error"] == (
        "management: credential reference 'env:RF_TEST_NO_SUCH_TOKEN': "
        "environment variable is unset"
    )
    fired = {a.rule_id for a in AlertStore(runtime.store, FixedClock()).list(limit=500)}
    assert "rf_entra_bruteforce" in fired
