"""Route specification: the ``routes:`` section of ``ringfence.yaml``, validated strictly.

A route maps a path prefix on the gateway to one registered upstream base URL and lists, per
method and path template, the scopes a caller needs, the JSON Schemas, object-level bindings and
quotas. Anything not declared here is refused by the gateway (deny by default). A route never
holds a secret: the upstream credential is a reference (``vault:NAME``, ``env:NAME`` or
``credential:NAME``) resolved by the policy compiler.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal
from urllib.parse import urlsplit

from jsonschema import SchemaError
from jsonschema.validators import validator_for
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ringfence.core.levels import DataClass
from ringfence.core.secretrefs import OWN_ENV_PROBLEM, names_own_env
from ringfence.gateway.schema import pattern_problems

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_SEGMENT = re.compile(r"^(?:[A-Za-z0-9._~-]+|\{[A-Za-z_][A-Za-z0-9_]{0,63}\})$")
_PREFIX_SEGMENT = re.compile(r"^[A-Za-z0-9._~-]+$")
_RATE = re.compile(r"^\s*\d+\s*(/|per)\s*(\d+\s*)?(second|minute|hour|day|month|year)s?\s*$")
_HEADER = re.compile(r"^[A-Za-z0-9-]{1,100}$")
_SCOPE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,200}$")  # RFC 6749 scope-token


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_rate(v: str | None) -> str | None:
    if v is not None and not _RATE.match(v):
        raise ValueError(f"invalid rate limit {v!r}: use e.g. '100/minute' or '10 per second'")
    return v


def _check_schema(v: dict[str, Any] | None) -> dict[str, Any] | None:
    if v is None:
        return v
    try:
        validator_for(v).check_schema(v)
    except SchemaError as exc:
        raise ValueError(f"invalid JSON Schema: {exc.message}") from None
    problems = pattern_problems(v)
    if problems:
        # matched against untrusted bodies: linear-time RE2 only (no backreferences,
        # look-around or possessive quantifiers)
        raise ValueError(f"invalid JSON Schema: {problems[0]}")
    return v


class OperationSpec(_Strict):
    """One method on one path template below the route prefix."""

    method: Method
    path: str = Field(description="Template below the prefix, e.g. /contacts/{contact_id}")
    scopes: list[str] = Field(default_factory=list, description="All are required")
    request_schema: dict[str, Any] | None = None
    response_schema: dict[str, Any] | None = None
    bind: dict[str, str] = Field(
        default_factory=dict, description="path parameter -> token claim that must equal it"
    )
    deprecated: bool = Field(default=False, description="Answer 410 Gone instead of forwarding")
    quota: str | None = Field(default=None, description="Extra per-integration flow quota")

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        if v == "/":
            return v
        if not v.startswith("/") or v.endswith("/"):
            raise ValueError("path must start with '/' and not end with '/'")
        names: set[str] = set()
        for seg in v[1:].split("/"):
            if not _SEGMENT.match(seg) or seg in (".", ".."):
                raise ValueError(f"invalid path segment {seg!r}")
            if seg.startswith("{"):
                if seg in names:
                    raise ValueError(f"duplicate path parameter {seg}")
                names.add(seg)
        return v

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, v: list[str]) -> list[str]:
        for s in v:
            if not _SCOPE.match(s) or " " in s:
                raise ValueError(f"invalid scope {s!r}")
        return v

    @field_validator("request_schema", "response_schema")
    @classmethod
    def _schemas(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return _check_schema(v)

    @field_validator("quota")
    @classmethod
    def _quota(cls, v: str | None) -> str | None:
        return _check_rate(v)

    @model_validator(mode="after")
    def _bind_params_exist(self) -> OperationSpec:
        params = set(re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", self.path))
        for param in self.bind:
            if param not in params:
                raise ValueError(f"bind: {param!r} is not a parameter of {self.path}")
        return self


class CredentialSpec(_Strict):
    """How the gateway authenticates to the upstream on the integration's behalf.

    Exactly one of ``ref`` (``vault:NAME`` or ``${env:NAME}``) or ``credential`` (the name of a
    credential declared in the estate, whose own ``ref`` is resolved) says where the secret is.
    """

    ref: str | None = Field(default=None, description="vault:NAME or ${env:NAME}")
    credential: str | None = Field(default=None, description="Name of an estate credential")
    scheme: Literal["bearer", "header", "basic", "oauth2_client_credentials"] = "bearer"
    header: str = "Authorization"
    token_url: str | None = None
    client_id: str | None = None
    scope: str | None = None

    @field_validator("ref")
    @classmethod
    def _ref(cls, v: str | None) -> str | None:
        if v is not None and not _REF.match(v):
            raise ValueError("ref must be vault:NAME or ${env:NAME} (never an inline secret)")
        if v is not None and v.startswith("${env:") and names_own_env(v[6:-1]):
            raise ValueError(f"ref {v} {OWN_ENV_PROBLEM}")
        return v

    @field_validator("header")
    @classmethod
    def _header(cls, v: str) -> str:
        if not _HEADER.match(v) or v.lower() in _RESERVED_HEADERS:
            raise ValueError(f"header {v!r} cannot carry a credential")
        return v

    @model_validator(mode="after")
    def _source(self) -> CredentialSpec:
        if (self.ref is None) == (self.credential is None):
            raise ValueError("give exactly one of ref or credential")
        if self.scheme == "oauth2_client_credentials":
            if not self.token_url or not self.client_id:
                raise ValueError("oauth2_client_credentials needs token_url and client_id")
            if urlsplit(self.token_url).scheme not in ("https", "http"):
                raise ValueError("token_url must be an http(s) URL")
        return self

    @property
    def source(self) -> str:
        """``vault:NAME``, ``${env:NAME}`` or ``credential:NAME``."""
        return self.ref if self.ref is not None else f"credential:{self.credential}"


_REF = re.compile(
    r"^(\$\{env:[A-Za-z_][A-Za-z0-9_]{0,127}\}|vault:[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,199})$"
)
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


class DlpSpec(_Strict):
    action: Literal["block", "redact", "alert"] = "block"
    inspect_request: bool = True
    inspect_response: bool = True
    uninspectable: Literal["block", "allow"] = Field(
        default="block",
        description=(
            "A response body DLP cannot read (a binary media type — files, images, PDF — a "
            "charset other than UTF-8 or an ASCII superset, NUL bytes): "
            "refused with 502 (block, the default: nothing leaves unchecked), or passed with "
            "the audit record saying it was not inspected (allow)"
        ),
    )
    clearance: DataClass | None = Field(
        default=None, description="Override of the destination app's clearance"
    )

    @field_validator("clearance", mode="before")
    @classmethod
    def _clearance(cls, v: Any) -> Any:
        return None if v is None else DataClass.parse(v)


class LimitsSpec(_Strict):
    max_body_bytes: int = Field(default=1_048_576, ge=0, le=64 * 1_048_576)
    max_depth: int = Field(default=32, ge=1, le=512)
    max_array_items: int = Field(default=10_000, ge=1)
    max_string_length: int = Field(default=1_048_576, ge=1)
    max_response_bytes: int = Field(default=8 * 1_048_576, ge=0, le=512 * 1_048_576)
    timeout_seconds: float = Field(default=15.0, gt=0, le=300)


class RouteSpec(_Strict):
    """One gateway route; ``name`` is the key in the estate file."""

    name: str
    app: str = Field(description="Destination app (its clearance bounds the DLP check)")
    prefix: str = Field(description="Gateway path prefix, e.g. /crm")
    upstream: str = Field(description="Registered upstream base URL, HTTPS")
    integrations: list[str] = Field(min_length=1, description="Integrations allowed to call")
    operations: list[OperationSpec] = Field(min_length=1)
    rate_limit: str | None = "600/minute"
    credential: CredentialSpec | None = None
    dlp: DlpSpec = Field(default_factory=DlpSpec)
    limits: LimitsSpec = Field(default_factory=LimitsSpec)
    content_types: list[str] = Field(default_factory=lambda: ["application/json"])
    allow_loopback: bool = Field(
        default=False, description="Test only: allow http:// and loopback/private upstreams"
    )

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("name must be 1-100 lowercase letters, digits, . _ -")
        return v

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if not v.startswith("/") or v.endswith("/") or len(v) > 200:
            raise ValueError("prefix must start with '/' and not end with '/'")
        for seg in v[1:].split("/"):
            if not _PREFIX_SEGMENT.match(seg) or seg in (".", ".."):
                raise ValueError(f"invalid prefix segment {seg!r}")
        if v.split("/")[1] in ("oauth", ".well-known", "healthz", "readyz", "metrics"):
            raise ValueError(f"prefix {v!r} collides with a gateway endpoint")
        return v

    @field_validator("rate_limit")
    @classmethod
    def _rate(cls, v: str | None) -> str | None:
        return _check_rate(v)

    @field_validator("content_types")
    @classmethod
    def _ctypes(cls, v: list[str]) -> list[str]:
        out = [c.strip().lower() for c in v]
        for c in out:
            if "/" not in c or ";" in c:
                raise ValueError(f"invalid content type {c!r}")
        return out

    @model_validator(mode="after")
    def _upstream(self) -> RouteSpec:
        check_upstream(self.upstream, allow_loopback=self.allow_loopback)
        seen: set[tuple[str, str]] = set()
        for op in self.operations:
            key = (op.method, re.sub(r"\{[^}]+\}", "{}", op.path))
            if key in seen:
                raise ValueError(f"operation {op.method} {op.path} is declared twice")
            seen.add(key)
        return self


def check_upstream(url: str, *, allow_loopback: bool) -> None:
    """Refuse upstreams that would make the gateway an SSRF vector."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise ValueError("upstream must be an https:// URL")
    if parts.scheme == "http" and not allow_loopback:
        raise ValueError("upstream must use https (http only with allow_loopback for tests)")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("upstream must not carry credentials, a query or a fragment")
    host = parts.hostname or ""
    if not host:
        raise ValueError("upstream has no host")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError("upstream has an invalid port") from None
    if not allow_loopback and is_private_host(host):
        raise ValueError(
            f"upstream host {host!r} is private, loopback or link-local "
            "(allowed only with allow_loopback for tests)"
        )


def is_private_host(host: str) -> bool:
    """True for literal private/loopback/link-local/reserved addresses and local names."""
    name = host.strip("[]").lower().rstrip(".")
    if name in ("localhost",) or name.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


def stored_spec(spec: RouteSpec) -> dict[str, Any]:
    """A route as the store keeps it: the fields that differ from their defaults. Every
    gateway reads it back through ``RouteSpec`` (defaults filled in), and a gateway of an
    older version — mid-way through a rolling upgrade of a cluster sharing the store — can
    still read a route that does not use a field it does not know: stored in full, a new
    field (``dlp.uninspectable``, session 8) made the older gateways' strict models refuse the
    whole policy (503 on every request) from the next ``apply``. A route that does set a new
    field is still refused by them: they could not enforce it."""
    return dict(spec.model_dump(mode="json", exclude_defaults=True))
