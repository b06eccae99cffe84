"""What a SaaS connector reports: people, installed apps, OAuth grants/tokens, action results.

Plain frozen dataclasses so discovery and posture can consume them without knowing any
vendor's JSON. They hold identifiers and scopes, never a token or secret value — except
``NewClientSecret``, which carries a just-minted secret as a ``SecretStr`` to the vault.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from pydantic import SecretStr

from ringfence.core.errors import RingfenceError

T = TypeVar("T")


class ConnectorError(RingfenceError):
    """A vendor API answered badly (malformed body, error status after retries, bad link)."""

    code = "connector_error"
    status = 502
    title = "SaaS connector error"

    def __init__(
        self,
        message: str,
        *,
        vendor: str,
        operation: str,
        http_status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(
            f"{vendor} {operation}: {message}",
            code=code,
            vendor=vendor,
            operation=operation,
            http_status=http_status,
        )
        self.vendor = vendor
        self.operation = operation
        self.http_status = http_status


@dataclass(frozen=True)
class DiscoveredPerson:
    vendor: str
    external_id: str
    login: str
    email: str | None = None
    name: str = ""
    active: bool = True
    is_admin: bool = False
    # None: the vendor does not expose MFA state (or we lack the permission to read it).
    mfa_enabled: bool | None = None
    last_login: datetime | None = None


@dataclass(frozen=True)
class DiscoveredApp:
    """A third-party app installed in / connected to a SaaS tenant."""

    vendor: str
    external_id: str
    name: str
    client_id: str | None = None
    scopes: tuple[str, ...] = ()
    enabled: bool = True
    publisher: str | None = None
    verified: bool | None = None
    installed_at: datetime | None = None


@dataclass(frozen=True)
class DiscoveredGrant:
    """An OAuth grant / token / credential authorization: who gave which app which scopes."""

    vendor: str
    external_id: str
    app_name: str
    client_id: str | None
    principal: str | None  # user id / login / email; None for tenant-wide (admin) consent
    scopes: tuple[str, ...]
    tenant_wide: bool = False
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    expires_at: datetime | None = None
    # Vendor-specific handles a response action needs (e.g. Google userKey + clientId).
    handle: dict[str, str] = field(default_factory=dict)


@dataclass
class PullResult(Generic[T]):
    """Items pulled so far, plus the error that stopped the pull (partial results are kept)."""

    items: list[T] = field(default_factory=list)
    error: ConnectorError | None = None
    pages: int = 0

    @property
    def complete(self) -> bool:
        return self.error is None


@dataclass
class AuditPullReport:
    """How an audit-log pull went; the records themselves went to the callback page by page."""

    pages: int = 0
    records: int = 0
    error: ConnectorError | None = None
    # Where to resume (next page URL / cursor / token) if the pull stopped early.
    resume: str | None = None


@dataclass(frozen=True)
class ActionResult:
    vendor: str
    action: str
    target: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class NewClientSecret:
    """A client secret just minted at the vendor: the value is shown once, never logged."""

    vendor: str
    app_id: str  # the vendor's id of the app the secret belongs to
    secret_id: str
    secret: SecretStr


@dataclass
class Snapshot:
    """Everything one connector pulled in one run."""

    vendor: str
    people: PullResult[DiscoveredPerson]
    apps: PullResult[DiscoveredApp]
    grants: PullResult[DiscoveredGrant]

    @property
    def errors(self) -> list[ConnectorError]:
        return [e for e in (self.people.error, self.apps.error, self.grants.error) if e]
