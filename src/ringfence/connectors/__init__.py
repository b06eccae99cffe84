"""SaaS connectors: read people, apps, OAuth grants/tokens and audit logs from Okta, GitHub,
Google Workspace, Microsoft 365 and Slack; run incident-response actions against them.

Public surface: the result dataclasses, ``ConnectorConfig``, ``ConnectorError``,
``build_connector`` and ``load_connector_configs``. Connectors never parse audit records (the
monitor capability does) and never hold a secret outside their HTTP client headers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ringfence.connectors._base import (
    AuditCallback,
    AuditStream,
    Connector,
    ConnectorConfig,
    SecretSource,
    resolve_credential,
)
from ringfence.connectors._checkpoints import (
    CheckpointStore,
    FileCheckpoints,
    MemoryCheckpoints,
    checkpoint_key,
)
from ringfence.connectors._model import (
    ActionResult,
    AuditCheckpoint,
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
from ringfence.core.suggest import did_you_mean

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


# The keys of one ``connectors:`` entry; anything else is a typo to report, not to ignore.
ENTRY_KEYS = ("vendor", "base_url", "credential", "options", "page_size")


def _unknown(where: str, what: str, key: object, known: Iterable[str]) -> ValidationError:
    """The error for a key nobody reads, with the closest known key when one is near."""
    names = sorted(known)
    name = str(key)
    hint = did_you_mean(name, names, quote=True)
    expected = ", ".join(names) if names else "none"
    return ValidationError(f"{where}: unknown {what} {name!r}{hint}; expected: {expected}")


def load_connector_configs(path: Path) -> list[ConnectorConfig]:
    """Read ``connectors:`` from a YAML file: ``[{vendor, base_url, credential, options}]``.

    Strict: a key, or an option the vendor's connector does not read, is an error naming the
    file, the entry and the closest known key — a misspelt ``page_size`` or
    ``action_credential_ref`` silently ignored changes what a pull or an action does."""
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except (OSError, YAMLError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{path}: cannot read connector config: {exc}") from None
    items = data.get("connectors") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValidationError(f"{path}: expected a top-level 'connectors:' list")
    for key in data:
        if key != "connectors":
            raise _unknown(str(path), "top-level key", key, ["connectors"])
    configs: list[ConnectorConfig] = []
    for i, item in enumerate(items):
        where = f"{path}: connectors[{i}]"
        if not isinstance(item, dict):
            raise ValidationError(f"{where}: expected a mapping")
        for key in item:
            if key not in ENTRY_KEYS:
                raise _unknown(where, "key", key, ENTRY_KEYS)
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
        cls = CONNECTORS.get(item["vendor"])
        if cls is None:
            raise ValidationError(f"{where}: unknown vendor {item['vendor']!r}")
        for key, value in options.items():
            if key not in cls.known_options:
                raise _unknown(f"{where} ({item['vendor']})", "option", key, cls.known_options)
            if isinstance(value, bool) or not isinstance(value, str | int):
                # an empty value would become the text "None" (customer: None sent to Google)
                raise ValidationError(
                    f"{where} ({item['vendor']}): option {key!r} must be a string, "
                    f"not {'empty' if value is None else type(value).__name__}"
                )
        try:
            cls.check_options({str(k): str(v) for k, v in options.items()})
        except ValidationError as exc:
            raise ValidationError(f"{where} ({item['vendor']}): {exc.message}") from None
        page_size = item.get("page_size", 100)
        if isinstance(page_size, bool) or not isinstance(page_size, int):
            raise ValidationError(f"{where}: page_size must be an integer 1..1000")
        try:
            configs.append(
                ConnectorConfig(
                    vendor=str(item["vendor"]),
                    base_url=str(item["base_url"]),
                    credential_ref=str(item["credential"]),
                    options={str(k): str(v) for k, v in options.items()},
                    page_size=page_size,
                )
            )
        except ValidationError as exc:
            raise ValidationError(f"{where}: {exc.message}", code=exc.code) from None
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"{where}: {exc}") from None
    return configs


__all__ = [
    "CONNECTORS",
    "ENTRY_KEYS",
    "ActionResult",
    "AuditCallback",
    "AuditCheckpoint",
    "AuditPullReport",
    "AuditStream",
    "CheckpointStore",
    "Connector",
    "ConnectorConfig",
    "ConnectorError",
    "DiscoveredApp",
    "DiscoveredGrant",
    "DiscoveredPerson",
    "FileCheckpoints",
    "GitHubConnector",
    "GoogleWorkspaceConnector",
    "MemoryCheckpoints",
    "Microsoft365Connector",
    "OktaConnector",
    "PullResult",
    "SecretSource",
    "SlackConnector",
    "Snapshot",
    "build_connector",
    "checkpoint_key",
    "load_connector_configs",
    "resolve_credential",
]
