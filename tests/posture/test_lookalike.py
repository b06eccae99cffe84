"""RF-SHD-006 and the UTS #39 skeleton it compares names by."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ringfence.connectors import DiscoveredApp, DiscoveredGrant
from ringfence.core.lookalike import name_key, skeleton
from ringfence.posture import run_checks
from tests.posture.builders import healthy


@pytest.mark.parametrize(
    ("real", "fake"),
    [
        ("Salesforce", "\u0405alesforce"),  # Cyrillic DZE for S
        ("Slack", "SIack"),  # capital i for l
        ("Salesforce", "Sa1esforce"),  # digit one for l
        ("Okta", "0kta"),  # zero for O
        ("Microsoft Teams", "Micros0ft Tearns"),  # rn for m
        ("Zoom", "\U0001d419oom"),  # mathematical bold Z
        ("Google Drive", "Go\u043egle Dr\u0456ve"),  # Cyrillic o and i
    ],
)
def test_look_alike_names_share_a_key(real: str, fake: str) -> None:
    assert name_key(real) == name_key(fake)


@pytest.mark.parametrize(
    ("a", "b"),
    [("Notion", "Motion"), ("Box", "Dropbox"), ("Salesforce", "Salesforce CRM"), ("Jira", "Jura")],
)
def test_different_names_keep_different_keys(a: str, b: str) -> None:
    assert name_key(a) != name_key(b)


def test_skeleton_is_unicode_s() -> None:
    # UTS #39 examples: the skeleton of a skeleton is itself; m and rn alike.
    assert skeleton("m") == skeleton("rn")
    s = skeleton("p\u0430yp\u0430l")
    assert s == skeleton(s) == skeleton("paypal")


def _findings(*apps: DiscoveredApp, grants: tuple[DiscoveredGrant, ...] = ()) -> list[str]:
    ctx = healthy()
    assert ctx.saas is not None
    ctx.saas.apps.extend(apps)
    ctx.saas.grants.extend(grants)
    [result] = run_checks(ctx, only=["RF-SHD-006"]).results
    return sorted(f.resource_id for f in result.failures)


def test_an_app_imitating_a_declared_app_is_a_high_finding() -> None:
    # healthy() declares the apps CRM, Chat and Okta and the integration crm-chat
    assert _findings(
        DiscoveredApp("google_workspace", "g1", "0kta Verify", "cid-g1"),
        DiscoveredApp("google_workspace", "g0", "Okta Verify", "cid-g0"),  # the real first word
        DiscoveredApp("google_workspace", "g2", "Okta", "cid-g2"),  # the name itself: shadow IT
        DiscoveredApp("google_workspace", "g3", "0KTA", "cid-g3"),
        DiscoveredApp("google_workspace", "g4", "Ch\u0430t", "cid-g4"),
        DiscoveredApp("google_workspace", "g5", "crm_chat", "cid-g5"),  # punctuation only
        DiscoveredApp("google_workspace", "g6", "CRM-chat", "cid-g6"),
        DiscoveredApp("google_workspace", "g7", "crrn-chat", "cid-g7"),
        DiscoveredApp("google_workspace", "g8", "Ch\u0430t", "cid-1"),  # declared client id
        DiscoveredApp("google_workspace", "g9", "0kta", "cid-g9", enabled=False),
        grants=(DiscoveredGrant("slack", "X/u1", "\u0421hat", "cid-x", "owner@corp.example", ()),),
    ) == [
        "google_workspace:0KTA",
        "google_workspace:0kta Verify",
        "google_workspace:Ch\u0430t",
        "google_workspace:crrn-chat",
        "slack:\u0421hat",
    ]


def test_short_names_need_more_than_a_shared_key() -> None:
    ctx = healthy()
    assert ctx.saas is not None
    ctx.apps.append(replace(ctx.apps[0], id="a9", name="IO", vendor="IO Inc"))
    ctx.saas.apps.append(DiscoveredApp("okta", "o9", "10 Minute Mail", "cid-o9"))
    ctx.saas.apps.append(DiscoveredApp("okta", "o8", "l0", "cid-o8"))
    [result] = run_checks(ctx, only=["RF-SHD-006"]).results
    assert result.failures == []


def test_the_message_shows_the_hidden_characters() -> None:
    ctx = healthy()
    assert ctx.saas is not None
    ctx.saas.apps.append(DiscoveredApp("okta", "o9", "Ch\u0430t", "cid-o9"))
    [result] = run_checks(ctx, only=["RF-SHD-006"]).results
    [failure] = result.failures
    assert "\\u0430" in failure.message and "'Chat'" in failure.message
    assert failure.evidence["imitates"] == "Chat"
