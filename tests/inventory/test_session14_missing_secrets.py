"""A ``vault:NAME`` reference to a secret the vault does not hold (session 14).

Before, plan and apply accepted it silently: the REST API refuses such a credential, and the
gateway takes a route whose credential it cannot resolve out of service (503
route_unavailable) — an apply could break a route with nothing said. Now plan prints one
warning per reference (file:line:column, the credential/route and its integration, the vault
name) and apply refuses the references its plan creates or changes, unless
--allow-missing-secrets; references already stored stay warnings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ringfence.core.clock import FixedClock
from ringfence.inventory import apply_estate, parse_estate, plan_estate
from ringfence.inventory.estate import MissingSecrets
from ringfence.runtime import Runtime
from tests.inventory.helpers import SMALL
from tests.inventory.test_cli import run

ROUTES = """\
routes:
  - name: chat-direct
    app: Chat
    prefix: /chat
    upstream: https://slack.com/api
    integrations: [crm-to-chat]
    credential: {ref: "vault:slack/route-token"}
    operations: [{method: GET, path: /a}]
  - name: chat-via-credential
    app: Chat
    prefix: /chat2
    upstream: https://slack.com/api
    integrations: [crm-to-chat]
    credential: {credential: chat-bot-token}
    operations: [{method: GET, path: /a}]
"""


@pytest.fixture
def data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    d = str(tmp_path / "rf")
    assert run(["init", "--data-dir", d], capsys)[0] == 0
    return d


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "ringfence.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return path


def _put(name: str, data: str, capsys: pytest.CaptureFixture[str], mp: pytest.MonkeyPatch) -> None:
    mp.setenv("RF_TEST_VALUE", "not-a-real-token-1234")
    assert (
        run(["vault", "put", name, "--from-env", "RF_TEST_VALUE", "--data-dir", data], capsys)[0]
        == 0
    )


def test_plan_warns_naming_the_credential_its_integration_and_the_vault_name(
    data: str, small: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["plan", "-f", str(small), "--data-dir", data], capsys)
    assert code == 0, err
    [line] = [ln for ln in out.splitlines() if ln.startswith("warning:")]
    assert f"{small}:34:10: credentials[0] (chat-bot-token).ref:" in line
    assert "'slack/bot' does not exist" in line
    assert "integration 'crm-to-chat'" in line
    assert "ringfence vault put slack/bot" in line
    assert "`apply` refuses the 1 this plan introduces" in out
    code, out, _ = run(["plan", "-f", str(small), "--data-dir", data, "-o", "json"], capsys)
    [warning] = json.loads(out)["warnings"]
    assert warning["path"] == "credentials[0] (chat-bot-token).ref"
    assert warning["refused_by_apply"] is True and "slack/bot" in warning["message"]


def test_apply_refuses_a_new_missing_secret_and_changes_nothing(
    data: str, small: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["apply", "-f", str(small), "--data-dir", data], capsys)
    assert code == 1
    assert "credentials[0] (chat-bot-token).ref: vault secret 'slack/bot' does not exist" in err
    assert "nothing was changed" in err and "--allow-missing-secrets" in err
    assert "Traceback" not in out + err
    code, out, _ = run(
        ["inventory", "list", "integrations", "--data-dir", data, "-o", "json"], capsys
    )
    assert code == 0 and json.loads(out) == []
    code, out, _ = run(["apply", "-f", str(small), "--data-dir", data, "-o", "json"], capsys)
    body = json.loads(out)
    assert code == 1 and body["applied"] is False and "slack/bot" in body["errors"][0]["message"]


def test_apply_with_the_flag_applies_and_warns_then_stored_gaps_only_warn(
    data: str, small: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["apply", "-f", str(small), "--data-dir", data]
    code, out, err = run([*argv, "--allow-missing-secrets"], capsys)
    assert code == 0, err
    assert "9 created" in out and "warning:" in out and "slack/bot" in out
    # The same file again: nothing new is introduced, the gap is only reported.
    code, out, err = run(argv, capsys)
    assert code == 0, err
    assert "No changes" in out and "warning:" in out
    assert "already referenced by the store" not in out  # that line is plan's
    # An unrelated change to the item does not re-open the question either.
    small.write_text(SMALL.replace("rotation_days: 90", "rotation_days: 30"), "utf-8")
    code, out, err = run(argv, capsys)
    assert code == 0 and "1 updated" in out, err
    # ...but pointing it at another missing secret does.
    small.write_text(SMALL.replace("vault:slack/bot", "vault:slack/bot-v2"), "utf-8")
    code, _, err = run(argv, capsys)
    assert code == 1 and "'slack/bot-v2' does not exist" in err


def test_a_present_secret_gives_no_warning(
    data: str, small: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _put("slack/bot", data, capsys, monkeypatch)
    code, out, err = run(["plan", "-f", str(small), "--data-dir", data], capsys)
    assert code == 0 and "warning" not in out + err
    code, out, err = run(["apply", "-f", str(small), "--data-dir", data], capsys)
    assert code == 0 and "9 created" in out and "warning" not in out + err


def test_routes_name_the_route_directly_and_through_a_credential(
    runtime: Runtime, clock: FixedClock
) -> None:
    estate = parse_estate(SMALL + ROUTES, "e.yaml")
    with runtime.store.session() as s:
        plan = plan_estate(s, estate)
    messages = {w.path: w.message for w in plan.warnings}
    assert set(messages) == {
        "credentials[0] (chat-bot-token).ref",
        "routes[0] (chat-direct).credential.ref",
        "routes[1] (chat-via-credential).credential.credential",
    }
    direct = messages["routes[0] (chat-direct).credential.ref"]
    assert "'slack/route-token' does not exist" in direct
    assert "503 route_unavailable on route 'chat-direct'" in direct
    via = messages["routes[1] (chat-via-credential).credential.credential"]
    assert "credential 'chat-bot-token' names vault secret 'slack/bot'" in via
    assert "route 'chat-via-credential'" in via
    assert set(plan.introduced_gaps) == set(plan.warnings)


def test_apply_estate_refuses_only_when_asked_and_env_references_are_not_checked(
    runtime: Runtime, clock: FixedClock
) -> None:
    estate = parse_estate(SMALL, "e.yaml")
    with pytest.raises(MissingSecrets) as refused:
        apply_estate(runtime.store, estate, clock=clock, allow_missing_secrets=False)
    assert refused.value.code == "missing_secret" and refused.value.status == 400
    with runtime.store.session() as s:
        assert plan_estate(s, estate).counts()["create"] == 9  # nothing was written
    env = parse_estate(SMALL.replace("vault:slack/bot", "${env:SLACK_BOT}"), "e.yaml")
    plan = apply_estate(runtime.store, env, clock=clock, allow_missing_secrets=False)
    assert plan.counts()["create"] == 9 and plan.warnings == ()
