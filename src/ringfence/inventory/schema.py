"""Item models of the built-in ``ringfence.yaml`` sections: people, vendors, apps, integrations,
credentials and (declared) data flows.

These are the boundary types of the declarative estate: unknown fields are errors, booleans and
integers are strict (``yes`` is not a boolean, ``"5"`` is not a number), URLs and e-mail
addresses are checked, and credentials carry a reference only. They must never accept a secret
value: a credential's ``ref`` is ``vault:NAME`` or ``${env:NAME}``, nothing else.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StrictBool, StrictInt, StrictStr, model_validator

from ringfence.core.levels import DataClass
from ringfence.inventory.sections import SecretReference, SectionItem

DataClassName = Literal["public", "internal", "confidential", "restricted"]
IntegrationKindName = Literal["app_to_app", "service_account"]
IntegrationStatusName = Literal["active", "quarantined", "revoked"]
CredentialKindName = Literal[
    "api_key", "oauth_client_secret", "oauth_refresh_token", "certificate", "password"
]

# C0 and C1 controls, DEL, line/paragraph separators (YAML and many viewers break lines at
# U+0085, U+2028, U+2029: an exported name would not read back the same) and the invisible
# direction and joiner marks that make one name look like another in the console.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_EMAIL = re.compile(
    r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$"
)
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def check_name(value: str) -> str:
    """A name shown to people: no surrounding whitespace, no control, separator, zero-width or
    direction characters (the estate file and the REST API use it alike)."""
    if value != value.strip():
        raise ValueError("must not start or end with whitespace")
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _email(value: str) -> str:
    if not _EMAIL.match(value) or len(value) > 320:
        raise ValueError("is not an e-mail address (name@example.com)")
    return value.lower()


def _url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("is not an http(s) URL with a host (https://api.example.com)")
    if parts.password is not None or parts.username is not None:
        raise ValueError(
            "must not carry credentials (user:password@): reference the secret from a "
            "credentials entry instead"
        )
    if any(c.isspace() for c in value) or len(value) > 500:
        raise ValueError("is not a valid URL (whitespace or longer than 500 characters)")
    return value


def _domain(value: str) -> str:
    if not _DOMAIN.match(value):
        raise ValueError("is not a DNS domain name (example.com)")
    return value


def _sorted_classes(values: list[DataClassName]) -> list[DataClassName]:
    # Order and duplicates carry no meaning: normalise so the diff does not see them.
    return sorted(set(values), key=lambda v: DataClass.parse(v).value)


def _unique(values: list[str]) -> list[str]:
    seen: set[str] = set()
    dupes = [v for v in values if v in seen or seen.add(v)]  # type: ignore[func-returns-value]
    if dupes:
        raise ValueError(f"lists {dupes[0]!r} twice")
    return values


Name = Annotated[StrictStr, Field(min_length=1, max_length=200), AfterValidator(check_name)]
# A one-line label that may be empty (a person's name, a department, a scope).
Label = Annotated[StrictStr, AfterValidator(check_name)]
Email = Annotated[StrictStr, AfterValidator(_email)]
Url = Annotated[StrictStr, AfterValidator(_url)]
Domain = Annotated[StrictStr, AfterValidator(_domain)]
Text = Annotated[StrictStr, Field(max_length=10_000)]
DataClasses = Annotated[list[DataClassName], AfterValidator(_sorted_classes)]


class PersonSpec(SectionItem):
    """A person who owns apps or integrations (identified by e-mail)."""

    email: Email
    name: Annotated[Label, Field(max_length=200)] = ""
    department: Annotated[Label, Field(max_length=120)] | None = None
    # None: leave as stored (SCIM deprovisioning sets it); new people are active.
    active: StrictBool | None = None


class VendorSpec(SectionItem):
    """A company that provides one or more SaaS apps."""

    name: Name
    website: Url | None = None
    domains: Annotated[list[Domain], AfterValidator(_unique)] = []
    description: Text = ""


class AppSpec(SectionItem):
    """A SaaS application: its vendor, owner, clearance and what data it keeps for how long."""

    name: Name
    vendor: Name
    category: Annotated[Label, Field(min_length=1, max_length=80)] = "other"
    base_urls: Annotated[list[Url], AfterValidator(_unique)] = []
    sanctioned: StrictBool = True
    owner: Email | None = None
    clearance: DataClassName = "internal"
    data_classes: DataClasses = []
    retention_days: dict[DataClassName, Annotated[StrictInt, Field(ge=1, le=36_500)]] = {}

    @model_validator(mode="after")
    def _retention_for_stored_classes(self) -> AppSpec:
        extra = sorted(set(self.retention_days) - set(self.data_classes))
        if extra:
            raise ValueError(
                f"retention_days names {', '.join(extra)}, which data_classes does not list"
            )
        return self


class IntegrationSpec(SectionItem):
    """A door: a source app calling a destination app, or a service account calling one app."""

    name: Name
    kind: IntegrationKindName = "app_to_app"
    source: Name | None = None
    destination: Name
    owner: Email | None = None
    client_id: Annotated[Label, Field(min_length=1, max_length=200)] | None = None
    # None: leave as stored (incident response quarantines/revokes); new ones are active.
    status: IntegrationStatusName | None = None
    scopes: Annotated[
        list[Annotated[Label, Field(min_length=1, max_length=200)]], AfterValidator(_unique)
    ] = []
    data_classes: DataClasses = []
    description: Text = ""

    @model_validator(mode="after")
    def _source_matches_kind(self) -> IntegrationSpec:
        if self.kind == "app_to_app" and self.source is None:
            raise ValueError(
                "an app_to_app integration needs a source app (or set kind: service_account)"
            )
        return self


class CredentialSpec(SectionItem):
    """A credential an integration uses, by reference: the secret stays in the vault/env."""

    name: Name
    kind: CredentialKindName
    integration: Name | None = None
    ref: SecretReference
    rotation_days: Annotated[StrictInt, Field(ge=1, le=3650)] | None = None
    expires_at: date | None = None


class FlowSpec(SectionItem):
    """A declared data flow: which data classes move from one app to another."""

    name: Name
    source: Name
    destination: Name
    integration: Name | None = None
    data_classes: Annotated[DataClasses, Field(min_length=1)]

    @model_validator(mode="after")
    def _not_a_loop(self) -> FlowSpec:
        if self.source == self.destination:
            raise ValueError("source and destination are the same app")
        return self


__all__ = [
    "AppSpec",
    "CredentialSpec",
    "DataClassName",
    "FlowSpec",
    "IntegrationSpec",
    "PersonSpec",
    "VendorSpec",
]
