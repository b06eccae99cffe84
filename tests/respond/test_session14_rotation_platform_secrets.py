"""A rotation never writes over a vault entry Ringfence's own configuration reads (session 14).

``rotate_client_secret`` refused an entry another credential, a gateway route or a connector
reads (session 13), but not the SSO client secret (RINGFENCE_IDENTITY_OIDC_CLIENT_SECRET_REF)
or a monitor.yaml sink's ``*_vault``: an integration credential sharing one was rotated over
it, and console sign-in or the SIEM feed broke with the old secret gone for good (the vault
keeps no older version). Posture reports such sharing (RF-IDN-010); the step now refuses it.
"""

from __future__ import annotations

from typing import Any

import pytest

from ringfence.core.clock import FixedClock
from ringfence.inventory.estate import apply_estate, parse_estate
from ringfence.respond import Responder
from ringfence.respond.wiring import responder_for
from ringfence.runtime import Runtime
from tests.respond.test_rotation import _config, _estate, _step

SSO_VAR = "RINGFENCE_IDENTITY_OIDC_CLIENT_SECRET_REF"
SINK = (
    "sinks:\n"
    "  - {name: splunk, type: splunk_hec, url: 'https://splunk.example:8088', "
    "token_vault: crm/client-secret}\n"
)


def _rotate(r: Responder) -> dict[str, Any]:
    incident = r.start("contain-integration", "crm-sync", actor="alice")
    step = _step(r, incident)
    assert step["status"] == "awaiting_approval", step
    r.approve(incident, step["position"], actor="bob")
    return _step(r, incident)


@pytest.fixture
def shared(runtime: Runtime, clock: FixedClock) -> Runtime:
    """crm-sync's client-secret credential at vault:crm/client-secret, holding "old"."""
    apply_estate(
        runtime.store,
        parse_estate(_estate("hr-insights-client", "okta")),
        actor="t",
        clock=clock,
    )
    runtime.vault.put("crm/client-secret", "old")
    return runtime


def test_the_sso_client_secret_is_not_rotated_over(
    shared: Runtime, clock: FixedClock, fakes: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SSO_VAR, "vault:crm/client-secret")
    server = fakes["okta"]
    r = Responder(
        shared.store, shared.vault, clock, connectors={"okta": _config("okta", server.url)}
    )
    step = _rotate(r)
    assert step["status"] == "failed", step
    assert (
        "vault:crm/client-secret is also used by the SSO client secret "
        f"({SSO_VAR}): rotating crm-secret would overwrite that secret"
    ) in step["error"]
    assert server.fake.actions == []
    assert shared.vault.get("crm/client-secret").get_secret_value() == "old"


def test_a_monitor_sinks_secret_is_not_rotated_over(
    shared: Runtime, fakes: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the Responder the API, the CLI and serve build (respond.wiring): it knows the
    data directory, so it reads monitor.yaml's sinks."""
    monkeypatch.delenv(SSO_VAR, raising=False)
    (shared.settings.data_dir / "monitor.yaml").write_text(SINK, encoding="utf-8")
    server = fakes["okta"]
    r = responder_for(shared)
    r.connectors = {"okta": _config("okta", server.url)}
    step = _rotate(r)
    assert step["status"] == "failed", step
    assert (
        "vault:crm/client-secret is also used by monitor.yaml sink 'splunk' (token_vault)"
        in step["error"]
    )
    assert server.fake.actions == []
    assert shared.vault.get("crm/client-secret").get_secret_value() == "old"


def test_a_monitor_yaml_that_cannot_be_read_fails_the_rotation_closed(
    shared: Runtime, clock: FixedClock, fakes: dict[str, Any]
) -> None:
    """Whether a sink reads the entry is unknown: nothing is minted, nothing overwritten."""
    (shared.settings.data_dir / "monitor.yaml").write_text("sinks: [{name: x, typo: 1}]\n")
    server = fakes["okta"]
    r = Responder(
        shared.store,
        shared.vault,
        clock,
        connectors={"okta": _config("okta", server.url)},
        data_dir=shared.settings.data_dir,
    )
    step = _rotate(r)
    assert step["status"] == "failed", step
    assert "cannot tell whether Ringfence's own configuration reads" in step["error"]
    assert "monitor.yaml" in step["error"] and "nothing was rotated" in step["error"]
    assert server.fake.actions == []
    assert shared.vault.get("crm/client-secret").get_secret_value() == "old"


def test_sso_and_sinks_on_entries_of_their_own_do_not_stop_a_rotation(
    shared: Runtime, fakes: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SSO_VAR, "vault:sso/client-secret")
    (shared.settings.data_dir / "monitor.yaml").write_text(
        SINK.replace("crm/client-secret", "siem/hec"), encoding="utf-8"
    )
    shared.vault.put("siem/hec", "not-a-real-token")
    server = fakes["okta"]
    r = responder_for(shared)
    r.connectors = {"okta": _config("okta", server.url)}
    step = _rotate(r)
    assert step["status"] == "done", step
    assert shared.vault.get("crm/client-secret").get_secret_value() != "old"
    assert shared.vault.get("siem/hec").get_secret_value() == "not-a-real-token"
