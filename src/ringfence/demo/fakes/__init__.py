"""Loopback fakes of the SaaS vendor APIs the connectors talk to (tests and the demo).

Each fake is a small Starlette app seeded with the demo company, with switches to inject a
429, a 5xx or a malformed page in the middle of a paginated listing. ``serve(fake)`` runs one
on 127.0.0.1 on a free port in a thread; ``connector_config_for`` says how a connector reaches
it. Never used against, or as, a real vendor.
"""

from __future__ import annotations

from ringfence.demo.fakes._common import FAULT_KINDS, FakeVendor, Faults, RunningFake, serve
from ringfence.demo.fakes.github import GitHubFake
from ringfence.demo.fakes.google_workspace import GoogleWorkspaceFake
from ringfence.demo.fakes.microsoft365 import FEED as MANAGEMENT_FEED
from ringfence.demo.fakes.microsoft365 import Microsoft365Fake
from ringfence.demo.fakes.okta import OktaFake
from ringfence.demo.fakes.slack import SlackFake

FAKES: dict[str, type[FakeVendor]] = {
    "okta": OktaFake,
    "github": GitHubFake,
    "google_workspace": GoogleWorkspaceFake,
    "microsoft365": Microsoft365Fake,
    "slack": SlackFake,
}


def connector_settings(
    vendor: str, url: str, credential_ref: str | None = None
) -> tuple[str, dict[str, str]]:
    """(base_url, options) for a connector talking to the fake of ``vendor`` at ``url``.

    With ``credential_ref``, Microsoft 365 also reads the fake's Office 365 Management
    Activity API with it (a real tenant needs a second token, for manage.office.com)."""
    if vendor == "github":
        return url, {"org": "northwind-analytics"}
    if vendor == "microsoft365":
        if credential_ref is None:
            return url + "/v1.0", {}
        return url + "/v1.0", {
            "management_base_url": url + MANAGEMENT_FEED,
            "management_credential_ref": credential_ref,
        }
    if vendor == "slack":
        return url + "/api", {
            "audit_base_url": url + "/audit/v1",
            "scim_base_url": url + "/scim/v2",
        }
    return url, {}


def connectors_yaml(
    servers: dict[str, RunningFake], credential_ref: str, *, management: bool = True
) -> str:
    """A ``connectors.yaml`` pointing every connector at its running fake (``management``:
    Microsoft 365 also reads the fake's Office 365 Management Activity API)."""
    lines = ["connectors:"]
    for vendor, server in servers.items():
        url, options = connector_settings(
            vendor, server.url, credential_ref if management else None
        )
        lines += [
            f"  - vendor: {vendor}",
            f"    base_url: {url}",
            f"    credential: {credential_ref}",
        ]
        if options:
            lines.append("    options:")
            lines += [f"      {k}: {v}" for k, v in options.items()]
    return "\n".join(lines) + "\n"


def serve_all() -> dict[str, RunningFake]:
    """Start one fake per vendor (stop them with ``server.stop()``); token ``test-token``."""
    return {vendor: serve(cls()) for vendor, cls in FAKES.items()}


__all__ = [
    "FAKES",
    "FAULT_KINDS",
    "FakeVendor",
    "Faults",
    "GitHubFake",
    "GoogleWorkspaceFake",
    "Microsoft365Fake",
    "OktaFake",
    "RunningFake",
    "SlackFake",
    "connector_settings",
    "connectors_yaml",
    "serve",
    "serve_all",
]
