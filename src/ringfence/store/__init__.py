"""Store: SQLAlchemy models, Alembic migrations, the vault, the audit chain, API tokens.

Public surface for other capabilities; everything else in this package is private.
"""

from ringfence.store.db import Store
from ringfence.store.models import (
    ApiToken,
    App,
    AuditRecord,
    Base,
    Credential,
    CredentialKind,
    DataFlow,
    FlowOrigin,
    Integration,
    IntegrationKind,
    IntegrationStatus,
    Person,
    VaultSecret,
    Vendor,
)

__all__ = [
    "ApiToken",
    "App",
    "AuditRecord",
    "Base",
    "Credential",
    "CredentialKind",
    "DataFlow",
    "FlowOrigin",
    "Integration",
    "IntegrationKind",
    "IntegrationStatus",
    "Person",
    "Store",
    "VaultSecret",
    "Vendor",
]
