"""Gateway settings (``RINGFENCE_GATEWAY_*``): issuer, token lifetime, trust, polling, caps.

These are knobs, never secrets: signing keys live in the vault, client secrets only as hashes.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from ringfence.core.errors import ConfigError


class GatewayConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RINGFENCE_GATEWAY_", extra="forbid")

    issuer: str = Field(default="https://gateway.ringfence.local", description="Token `iss`")
    audience: str = Field(default="ringfence-gateway", description="Token `aud`")
    token_ttl_seconds: int = Field(default=600, ge=30, le=900)
    signing_alg: str = Field(default="EdDSA", description="EdDSA or ES256")
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=120)
    poll_interval_seconds: float = Field(default=0.2, gt=0, le=0.25)
    max_staleness_seconds: float = Field(
        default=2.0, gt=0, le=30, description="Fail closed when the policy is older than this"
    )
    trusted_proxies: list[str] = Field(
        default_factory=list, description="CIDRs whose client-certificate header is believed"
    )
    client_cert_header: str = "x-client-cert"
    metrics_allow: list[str] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"],
        description="CIDRs that may read /metrics (it names every integration and route with "
        "their traffic); anyone else gets 404. Empty: nobody",
    )
    client_ca_file: Path | None = Field(
        default=None, description="PEM bundle of CAs that sign client certificates"
    )
    audit_file: Path | None = None
    dlp_engine: Literal["classify", "builtin"] = Field(
        default="classify",
        description="classify: the full DLP catalogue; builtin: prefiltered email/card/AWS only",
    )
    assertion_audience: Literal["issuer", "issuer_or_token_endpoint"] = Field(
        default="issuer",
        description="What a client assertion's aud must be: the issuer identifier as its only "
        "value (draft-ietf-oauth-rfc7523bis); issuer_or_token_endpoint also accepts the token "
        "endpoint alone, while clients written for RFC 7523's wording move",
    )
    oauth_rate_limit: str = Field(
        default="300/minute", description="Requests to /oauth/* per client address"
    )
    max_header_bytes: int = Field(default=16_384, ge=1024)
    max_query_bytes: int = Field(default=4096, ge=0)
    fast_path: Literal["on", "off", "verify"] = Field(
        default="on",
        description="Plan common requests natively (gateway/fastpath.py); off: always the "
        "Python path; verify: each plan is checked against the Python path's decision too "
        "(tests, canaries: a mismatch is logged and the Python path decides)",
    )
    redis_url: str | None = Field(
        default=None,
        description="Shared, exact rate limits (routes, quotas, /oauth/*); the commands fall back "
        "to RINGFENCE_REDIS_URL. Revocations travel through the store, not Redis",
    )
    redis_prefix: str = "ringfence:gw:"
    redis_timeout_seconds: float = Field(
        default=0.5,
        ge=0.05,
        le=10,
        description="A Redis answer slower than this fails the request closed (503)",
    )

    @field_validator("trusted_proxies", "metrics_allow")
    @classmethod
    def _cidrs(cls, v: list[str]) -> list[str]:
        for c in v:
            ipaddress.ip_network(c, strict=False)
        return v

    @field_validator("oauth_rate_limit")
    @classmethod
    def _oauth_rate(cls, v: str) -> str:
        from limits import parse

        try:
            parse(v)
        except ValueError:
            raise ValueError("oauth_rate_limit must look like '300/minute'") from None
        return v

    @field_validator("signing_alg")
    @classmethod
    def _alg(cls, v: str) -> str:
        if v not in ("EdDSA", "ES256"):
            raise ValueError("signing_alg must be EdDSA or ES256")
        return v

    @field_validator("client_cert_header")
    @classmethod
    def _hdr(cls, v: str) -> str:
        return v.lower()


def load_gateway_config() -> GatewayConfig:
    """The gateway's settings from the environment; a bad value is one ConfigError naming the
    variable (``RINGFENCE_GATEWAY_TOKEN_TTL_SECONDS: ...``), never the value (it may be a
    URL with a password)."""
    try:
        return GatewayConfig()
    except PydanticValidationError as exc:
        problems = "; ".join(
            "RINGFENCE_GATEWAY_" + "_".join(str(p) for p in e["loc"]).upper() + f": {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"invalid gateway settings: {problems}") from None
    except SettingsError as exc:  # a list setting that is not JSON
        found = re.search(r'field "(\w+)"', str(exc))
        name = "RINGFENCE_GATEWAY_" + (found.group(1).upper() if found else "*")
        raise ConfigError(
            f"invalid gateway settings: {name}: not valid JSON (a list is written "
            """'["10.0.0.0/8"]')"""
        ) from None
