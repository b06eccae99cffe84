"""Which secret references name Ringfence's own configuration.

Ringfence reads its configuration from ``RINGFENCE_*`` environment variables (pydantic-settings,
case-insensitive): the master key (``RINGFENCE_MASTER_KEY``, ``RINGFENCE_NEW_MASTER_KEY``), the
store, Redis and NATS URLs with their passwords. A credential reference ``${env:RINGFENCE_...}``
would have the gateway inject one of them into a request to the upstream whoever edits the
estate chooses — the environment's counterpart of the vault's reserved names. Refused wherever
a reference is accepted (REST, estate file, route spec) and again when the gateway resolves it.
"""

from __future__ import annotations

OWN_ENV_PREFIX = "RINGFENCE_"

OWN_ENV_PROBLEM = (
    "names Ringfence's own configuration (RINGFENCE_* environment variables: the master key, "
    "the store's URL); reference a secret of your own"
)


def names_own_env(name: str) -> bool:
    """Whether the environment variable ``name`` is one of Ringfence's own (any case)."""
    return name.strip().upper().startswith(OWN_ENV_PREFIX)
