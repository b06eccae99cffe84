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


# A checkpoint keeps at most this many ids: a tenant busier than that within one overlap
# window has the oldest forgotten (monitoring's idempotent event ids still catch those).
MAX_CHECKPOINT_IDS = 50_000


@dataclass
class AuditCheckpoint:
    """Where an audit log's next pull resumes, and what it has already read there.

    ``until``: per part of the log (a Management Activity API content type; ``""`` for a log
    read as one) the time up to which everything was read. ``seen``: the ids read near that
    edge (Microsoft ``contentId``, Google ``id.uniqueQualifier@id.time``) with their time, so
    the next pull, which re-reads an overlap before ``until``, skips them instead of handing
    them over twice. Holds ids and times only, never a record."""

    until: dict[str, datetime] = field(default_factory=dict)
    seen: dict[str, datetime] = field(default_factory=dict)

    def prune(self, keep_after: datetime) -> None:
        """Forget ids older than ``keep_after`` (no re-read reaches them), newest kept."""
        kept = sorted(((t, i) for i, t in self.seen.items() if t >= keep_after), reverse=True)[
            :MAX_CHECKPOINT_IDS
        ]
        self.seen = {i: t for t, i in kept}

    def to_json(self) -> dict[str, dict[str, str]]:
        return {
            "until": {k: v.isoformat() for k, v in sorted(self.until.items())},
            "seen": {k: v.isoformat() for k, v in sorted(self.seen.items())},
        }

    @classmethod
    def from_json(cls, data: object) -> AuditCheckpoint:
        """ValueError on anything but the shape ``to_json`` writes (aware ISO 8601 times)."""
        if not isinstance(data, dict) or set(data) - {"until", "seen"}:
            raise ValueError("expected an object with 'until' and 'seen'")

        def times(key: str) -> dict[str, datetime]:
            raw = data.get(key, {})
            if not isinstance(raw, dict):
                raise ValueError(f"{key!r} is not an object")
            out: dict[str, datetime] = {}
            for name, value in raw.items():
                try:
                    when = datetime.fromisoformat(value) if isinstance(value, str) else None
                except ValueError:
                    when = None
                if when is None or when.tzinfo is None:
                    raise ValueError(f"{key}[{name[:60]!r}] is not a time with a zone")
                out[str(name)] = when
            return out

        return cls(until=times("until"), seen=times("seen"))


@dataclass
class AuditPullReport:
    """How an audit-log pull went; the records themselves went to the callback page by page."""

    pages: int = 0
    records: int = 0
    error: ConnectorError | None = None
    # Where to resume (next page URL / cursor / token) if the pull stopped early.
    resume: str | None = None
    # For the logs that resume by time (Google Reports API, Office 365 Management Activity
    # API): the checkpoint to hand to the next pull. Advances only over what was read.
    checkpoint: AuditCheckpoint | None = None
    # Records (or Microsoft content blobs) skipped as already read by an earlier pull.
    duplicates: int = 0
    # Time the vendor no longer keeps between a checkpoint and what could be read: audit
    # records lost for good, said once (the checkpoint moves past them).
    gaps: list[str] = field(default_factory=list)


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
