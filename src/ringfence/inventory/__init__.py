"""Inventory: the declarative estate (``ringfence.yaml``) and read views of apps, vendors,
integrations, credentials, data flows and people.

Public surface for other capabilities; the rest of this package is private. Extension sections
register through :mod:`ringfence.inventory.sections`. Nothing here ever holds a secret value.
"""

from ringfence.inventory.estate import (
    API_VERSION,
    Change,
    Estate,
    EstateInvalid,
    EstateProblem,
    FieldChange,
    Plan,
    apply_estate,
    export_estate,
    load_estate,
    parse_estate,
    plan_estate,
)
from ringfence.inventory.repository import InventoryRepository, ListQuery, Page
from ringfence.inventory.sections import (
    ApplyContext,
    EstateSection,
    EstateView,
    SecretReference,
    SectionItem,
    SectionProblem,
    register_section,
    registered_sections,
)

__all__ = [
    "API_VERSION",
    "ApplyContext",
    "Change",
    "Estate",
    "EstateInvalid",
    "EstateProblem",
    "EstateSection",
    "EstateView",
    "FieldChange",
    "InventoryRepository",
    "ListQuery",
    "Page",
    "Plan",
    "SecretReference",
    "SectionItem",
    "SectionProblem",
    "apply_estate",
    "export_estate",
    "load_estate",
    "parse_estate",
    "plan_estate",
    "register_section",
    "registered_sections",
]
