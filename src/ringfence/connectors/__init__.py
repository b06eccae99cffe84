"""SaaS connectors: read people, apps, OAuth grants/tokens and audit logs from Okta, GitHub,
Google Workspace, Microsoft 365 and Slack; run incident-response actions against them.

Public surface: the result dataclasses, ``ConnectorConfig``, ``ConnectorError``,
``build_connector`` and ``load_connector_configs``. Connectors never parse audit records (the
monitor capability does) and never hold a secret outside their HTTP client headers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ringfence.connectors._base import (
    AuditCallback,
    Connector,
    ConnectorConfig,
    SecretSource,
    resolve_credential,
)
from ringfence.connectors._model import (
    ActionResult,
    AuditPullReport,
    ConnectorError,
    DiscoveredApp,
    DiscoveredGrant,
    DiscoveredPerson,
    PullResult,
    Snapshot,
)
from ringfence.connectors.github import GitHubConnector
from ringfence.connectors.google_workspace import GoogleWorkspaceConnector
from ringfence.connectors.microsoft365 import Microsoft365Connector
from ringfence.connectors.okta import OktaConnector
from ringfence.connectors.slack import SlackConnector
from ringfence.core.clock import Clock
from ringfence.core.errors import ValidationError

CONNECTORS: dict[str, type[Connector]] = {
    "okta": OktaConnector,
    "github": GitHubConnector,
    "google_workspace": GoogleWorkspaceConnector,
    "microsoft365": Microsoft365Connector,
    "slack": SlackConnector,
}


def build_connector(
    config: ConnectorConfig,
    *,
    secrets: SecretSource | None = None,
    transport: httpx.BaseTransport | None = None,
    clock: Clock | None = None,
    sleep: Callable[[float], None] | None = None,
) -> Connector:
    cls = CONNECTORS.get(config.vendor)
    if cls is None:
        raise ValidationError(
            f"unknown connector vendor {config.vendor!r}; expected one of: "
            + ", ".join(sorted(CONNECTORS))
        )
    kwargs: dict[str, Any] = {"secrets": secrets, "transport": transport, "clock": clock}
    if sleep is not None:
        kwargs["sleep"] = sleep
    return cls(config, **kwargs)


def load_connector_configs(path: Path) -> list[ConnectorConfig]:
    """Read ``connectors:`` from a YAML file: ``[{vendor, base_url, credential, options}]``."""
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except (OSError, YAMLError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{path}: cannot read connector config: {exc}") from None
    items = data.get("connectors") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValidationError(f"{path}: expected a top-level 'connectors:' list")
    configs: list[ConnectorConfig] = []
    for i, item in enumerate(items):
        where = f"{path}: connectors[{i}]"
        if not isinstance(item, dict):
            raise ValidationError(f"{where}: expected a mapping")
        missing = [k for k in ("vendor", "base_url", "credential") if not item.get(k)]
        if missing:
            raise ValidationError(f"{where}: missing {', '.join(missing)}")
        for key in ("vendor", "base_url", "credential"):
            if not isinstance(item[key], str):
                raise ValidationError(
                    f"{where}: {key} must be a string, not {type(item[key]).__name__}"
                )
        options = item.get("options") or {}
        if not isinstance(options, dict):
            raise ValidationError(f"{where}: options must be a mapping")
        if item["vendor"] not in CONNECTORS:
            raise ValidationError(f"{where}: unknown vendor {item['vendor']!r}")
        try:
            configs.append(
                ConnectorConfig(
                    vendor=str(item["vendor"]),
                    base_url=str(item["base_url"]),
                    credential_ref=str(item["credential"]),
                    options={str(k): str(v) for k, v in options.items()},
                    page_size=int(item.get("page_size", 100)),
                )
            )
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"{where}: {exc}") from None
    return configs


__all__ = [
    "CONNECTORS",
    "ActionResult",
    "AuditCallback",
    "AuditPullReport",
    "Connector",
    "ConnectorConfig",
    "ConnectorError",
    "DiscoveredApp",
    "DiscoveredGrant",
    "DiscoveredPerson",
    "GitHubConnector",
    "GoogleWorkspaceConnector",
    "Microsoft365Connector",
    "OktaConnector",
    "PullResult",
    "SecretSource",
    "SlackConnector",
    "Snapshot",
    "build_connector",
    "load_connector_configs",
    "resolve_credential",
]
