"""Vault entries Ringfence's own configuration reads: the SSO client secret and the monitor
sinks' credentials.

They are not inventory credentials (no integration, no declared schedule, no usage record), so
posture's rotation checks and the shared-credential check did not see them: an SSO client
secret or a SIEM token never rotated went unreported. Read from the identity settings
(``RINGFENCE_IDENTITY_OIDC_CLIENT_SECRET_REF``) and ``<data_dir>/monitor.yaml`` (``*_vault``);
a bad value in either is the ConfigError their owners raise. Names only: never reads a secret.
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


def platform_secret_refs(data_dir: Path | None) -> list[PlatformSecretRef]:
    """The SSO client secret (when it is a ``vault:NAME``) and, with ``data_dir``, every
    ``*_vault`` of the sinks in its monitor.yaml."""
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
