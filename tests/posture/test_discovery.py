"""Discovery of shadow IT, adopting into ringfence.yaml (comments kept), least-privilege
recommendations applied to the estate file."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from ringfence.connectors import DiscoveredApp, DiscoveredGrant
from ringfence.core.errors import NotFoundError, ValidationError
from ringfence.inventory import load_estate
from ringfence.posture import FlowFact, ObservedUsage, UsageCount
from ringfence.posture.discovery import adopt, declared_match, find_shadow
from ringfence.posture.recommend import apply_recommendations, as_yaml_patch, recommend
from tests.posture.builders import ago, healthy

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "estate.yaml"


def shadow_ctx():  # type: ignore[no-untyped-def]
    ctx = healthy()
    assert ctx.saas is not None
    ctx.saas.apps.append(
        DiscoveredApp(
            "google_workspace",
            "c9",
            "PDF Converter Pro",
            "c9",
            ("https://www.googleapis.com/auth/drive",),
        )
    )
    ctx.saas.grants += [
        DiscoveredGrant(
            "google_workspace",
            f"{u}/c9",
            "PDF Converter Pro",
            "c9",
            u,
            ("https://www.googleapis.com/auth/drive",),
        )
        for u in ("a@x", "b@x")
    ]
    ctx.saas.grants.append(DiscoveredGrant("slack", "G1/u", "Giphy", "G1", "u", ("commands",)))
    assert ctx.usage is not None
    ctx.usage["ghost-sync"] = ObservedUsage("ghost-sync", {"read": UsageCount(3, ago(1))})
    ctx.flows.append(FlowFact("obs", "obs", "a2", "a1", ("internal",), "observed"))
    return ctx


def test_declared_things_match_by_client_id_and_name() -> None:
    ctx = healthy()
    assert declared_match(ctx, "Anything", "cid-1") == "crm-chat"
    assert declared_match(ctx, "CRM", None) == "CRM"
    assert declared_match(ctx, "Okta Admin Console", None) == "Okta"
    assert declared_match(ctx, "Sketchy", "nope") is None


def test_find_shadow_lists_apps_grants_gateway_integrations_and_flows() -> None:
    items = {(i.kind, i.name): i for i in find_shadow(shadow_ctx())}
    pdf = items[("integration", "pdf-converter-pro-google-workspace")]
    assert pdf.risk == "critical"  # high-risk scope held by several people
    assert pdf.principals == ["a@x", "b@x"]
    assert items[("app", "PDF Converter Pro")].risky_scopes
    assert items[("integration", "giphy-slack")].risk == "medium"
    assert ("integration", "ghost-sync") in items and ("flow", "obs") in items
    risks = [i.risk for i in find_shadow(shadow_ctx())]
    assert risks == sorted(risks, key=["critical", "high", "medium", "low"].index)


@pytest.fixture
def estate_file(tmp_path: Path) -> Path:
    path = tmp_path / "ringfence.yaml"
    shutil.copy(EXAMPLE, path)
    return path


def northwind_ctx():  # type: ignore[no-untyped-def]
    """The example estate's names, with a discovered risky Slack bot."""
    ctx = shadow_ctx()
    assert ctx.saas is not None
    ctx.saas.apps.append(
        DiscoveredApp("slack", "A05NOTES", "Meeting Notes AI", "A05NOTES", ("im:history",))
    )
    ctx.saas.grants.append(
        DiscoveredGrant(
            "slack",
            "A05NOTES/U1",
            "Meeting Notes AI",
            "A05NOTES",
            "U1",
            ("im:history", "chat:write"),
        )
    )
    return ctx


def test_adopt_integration_edits_the_file_precisely(estate_file: Path) -> None:
    before = estate_file.read_text()
    added = adopt(
        estate_file, "integration", "meeting-notes-ai-slack", find_shadow(northwind_ctx())
    )
    assert added == {"app": "Meeting Notes AI", "integration": "meeting-notes-ai-slack"}
    after = estate_file.read_text()
    # every original comment line survives, and the file still validates
    for line in before.splitlines():
        if line.strip().startswith("#"):
            assert line in after
    estate = load_estate(estate_file)
    assert estate.count("integrations") == load_estate(EXAMPLE).count("integrations") + 1
    assert estate.count("apps") == load_estate(EXAMPLE).count("apps") + 1
    assert "adopted from discovery" in after
    text = after.split("name: meeting-notes-ai-slack", 1)[1][:400]
    assert "destination: Slack" in text and "client_id: A05NOTES" in text
    assert "im:history" in text


def test_adopt_app_declares_it_unsanctioned(estate_file: Path) -> None:
    adopt(estate_file, "app", "PDF Converter Pro", find_shadow(northwind_ctx()))
    text = estate_file.read_text()
    block = text.split("  - name: PDF Converter Pro\n", 1)[1][:200]
    assert "sanctioned: false" in block and "clearance: public" in block
    load_estate(estate_file)
    with pytest.raises(ValidationError, match="already declared"):
        adopt(estate_file, "app", "PDF Converter Pro", find_shadow(northwind_ctx()))


def test_adopt_bad_inputs_are_clear_errors(estate_file: Path, tmp_path: Path) -> None:
    items = find_shadow(northwind_ctx())
    with pytest.raises(ValidationError, match="unknown kind"):
        adopt(estate_file, "vendor", "x", items)
    with pytest.raises(NotFoundError, match="no discovered app named 'Nope'"):
        adopt(estate_file, "app", "Nope", items)
    with pytest.raises(ValidationError, match="adopt that integration"):
        adopt(estate_file, "flow", "obs", items)
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ValidationError, match="cannot read"):
        adopt(missing, "app", "PDF Converter Pro", items)
    broken = tmp_path / "broken.yaml"
    broken.write_text("apps: [unclosed\n")
    with pytest.raises(ValidationError, match="cannot read"):
        adopt(broken, "app", "PDF Converter Pro", items)
    assert broken.read_text() == "apps: [unclosed\n"


def test_recommend_removes_only_unused_scopes() -> None:
    ctx = healthy()
    ctx.integrations[0] = replace(ctx.integrations[0], scopes=("chat:write", "files:read"))
    [rec] = recommend(ctx)
    assert rec.minimal == ("chat:write",) and rec.remove == ("files:read",)
    assert "remove: files:read" in as_yaml_patch([rec])
    ctx.usage = None
    assert recommend(ctx) == []


def test_recommendation_applied_to_estate_keeps_comments(estate_file: Path) -> None:
    from ringfence.posture.recommend import Recommendation

    rec = Recommendation(
        "jira-slack-notifications", ("chat:write", "incoming-webhook", "commands"), ("chat:write",)
    )
    before = estate_file.read_text()
    assert apply_recommendations(estate_file, [rec]) == ["jira-slack-notifications"]
    after = estate_file.read_text()
    block = after.split("name: jira-slack-notifications", 1)[1][:300]
    assert 'scopes: ["chat:write"]' in block or "scopes: [chat:write]" in block
    assert sum(1 for line in before.splitlines() if line.strip().startswith("#")) == sum(
        1 for line in after.splitlines() if line.strip().startswith("#")
    )
    load_estate(estate_file)
