"""Every capability's tables on ``Base.metadata``: the one list the migrations and backups
share, so a capability added here is migrated and backed up alike."""

from __future__ import annotations

from sqlalchemy import MetaData

CAPABILITY_MODELS = (
    "ringfence.classify.models",
    "ringfence.gateway.models",
    "ringfence.identity.models",
    "ringfence.monitor.models",
    "ringfence.posture.models",
    "ringfence.respond.models",
    "ringfence.vendors.models",
)


def load_all_models() -> MetaData:
    """Import every capability's models (idempotent) and return the shared metadata."""
    import importlib

    from ringfence.store.models import Base

    for name in CAPABILITY_MODELS:
        importlib.import_module(name)
    return Base.metadata
