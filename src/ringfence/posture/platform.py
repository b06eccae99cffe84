"""Vault entries Ringfence's own configuration reads: the SSO client secret, the monitor
sinks' credentials and the SaaS connectors' tokens.

They are not inventory credentials (no integration, no declared schedule, no usage record), so
posture's rotation checks and the shared-credential check did not see them: an SSO client
secret, a SIEM token or a connector's admin token never rotated went unreported. Read from the
identity settings (``RINGFENCE_IDENTITY_OIDC_CLIENT_SECRET_REF``), ``<data_dir>/monitor.yaml``
(``*_vault``) and, when given, connectors.yaml (``credential`` and ``*_credential_ref``
options); a bad value in any is a ConfigError naming it. Names only: never reads a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: monitor.yaml sink keys that may name a vault entry (``token_vault: splunk/hec``).
SINK_SECRET_KEYS = ("secret", "token", "password", "url")


@dataclass(frozen=True, slots=True)
class PlatformSecretRef:
    """One vault entry one part of Ringfence's configuration reads."""

    id: str  # stable: "sso:oidc_client_secret", "sink:splunk:token"
    used_by: str  # who reads it, naming the setting
    vault_name: str


def platform_secret_refs(
    data_dir: Path | None, connectors_file: Path | None = None
) -> list[PlatformSecretRef]:
    """The SSO client secret (when it is a ``vault:NAME``), with ``data_dir`` every
    ``*_vault`` of the sinks in its monitor.yaml, and with ``connectors_file`` every
    ``vault:NAME`` its connectors authenticate with."""
    from ringfence.identity.settings import IdentitySettings

    out: list[PlatformSecretRef] = []
    ref = IdentitySettings().oidc_client_secret_ref
    if ref and ref.startswith("vault:") and len(ref) > len("vault:"):
        out.append(
            PlatformSecretRef(
                "sso:oidc_client_secret",
                "the SSO client secret (RINGFENCE_IDENTITY_OIDC_CLIENT_SECRET_REF)",
                ref.removeprefix("vault:"),
            )
        )
    if connectors_file is not None:
        out += _connector_refs(connectors_file)
    if data_dir is None:
        return out
    from ringfence.monitor.wiring import load_config

    for sink in load_config(data_dir).get("sinks") or []:
        for key in SINK_SECRET_KEYS:
            name = sink.get(f"{key}_vault")
            if name:
                out.append(
                    PlatformSecretRef(
                        f"sink:{sink['name']}:{key}",
                        f"monitor.yaml sink {sink['name']!r} ({key}_vault)",
                        str(name),
                    )
                )
    return out


def _connector_refs(path: Path) -> list[PlatformSecretRef]:
    """``connector:<vendor>:credential`` for each connector's main token and
    ``connector:<vendor>:<option>`` for its other ones (GitHub's ``action_credential_ref``,
    Microsoft's ``management_credential_ref``), when they are ``vault:NAME``; ``env:``
    references are not seen (Ringfence never holds those values). A vendor configured twice
    is told apart by its entry's index (``okta[1]``)."""
    from collections import Counter

    from ringfence.connectors import load_connector_configs
    from ringfence.core.errors import ConfigError, RingfenceError

    try:
        configs = load_connector_configs(path)
    except RingfenceError as exc:  # the loader's message names the file, entry and key
        raise ConfigError(exc.message) from None
    vendors = Counter(c.vendor for c in configs)
    out: list[PlatformSecretRef] = []
    for i, cfg in enumerate(configs):
        name = cfg.vendor if vendors[cfg.vendor] == 1 else f"{cfg.vendor}[{i}]"
        refs = [("credential", "credential", cfg.credential_ref)] + [
            (key, f"options.{key}", str(value))
            for key, value in sorted(cfg.options.items())
            if key.endswith("_credential_ref") and value
        ]
        for key, setting, ref in refs:
            if ref.startswith("vault:") and len(ref) > len("vault:"):
                out.append(
                    PlatformSecretRef(
                        f"connector:{name}:{key}",
                        f"{path.name} connector {name!r} ({setting})",
                        ref.removeprefix("vault:"),
                    )
                )
    return out
