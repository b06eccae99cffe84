"""Runtime settings: ``RINGFENCE_*`` environment variables, then a settings file, then defaults.

The settings file is YAML (``ringfence.settings.yaml`` in the working directory, or the path in
``RINGFENCE_SETTINGS_FILE``). Settings never hold a secret value: the master key is read from
its own file (mode 0600) or from ``RINGFENCE_MASTER_KEY`` by the vault, not stored here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ringfence.core.errors import ConfigError

DEFAULT_SETTINGS_FILE = "ringfence.settings.yaml"


class _YamlFileSource(PydanticBaseSettingsSource):
    """Reads the optional settings file; a malformed one is a clear ConfigError."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self._data: dict[str, Any] = {}
        if path is None or not path.exists():
            return
        try:
            loaded = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
        except YAMLError as exc:
            # Only the problem and its position: the YAML library's own message quotes the
            # offending lines, which may hold a database password.
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or "malformed YAML"
            raise ConfigError(f"{path}{where}: cannot read settings file: {problem}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read settings file: {type(exc).__name__}") from None
        if loaded is None:
            return
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: settings file must be a mapping of setting: value")
        self._data = {str(k): v for k, v in loaded.items()}

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


class Settings(BaseSettings):
    """All knobs of a Ringfence process."""

    model_config = SettingsConfigDict(env_prefix="RINGFENCE_", extra="forbid")

    data_dir: Path = Field(default=Path(".ringfence"), description="Where state lives.")
    store_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default sqlite:///<data_dir>/ringfence.db. "
        "At scale: postgresql+psycopg://user@host/db",
    )
    master_key_file: Path | None = Field(
        default=None, description="Master key file (0600); default <data_dir>/master.key"
    )
    redis_url: str | None = Field(default=None, description="redis://host:6379/0 at scale")
    nats_url: str | None = Field(default=None, description="nats://host:4222 at scale")
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8700, ge=1, le=65535)
    api_trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses/CIDRs of reverse proxies whose X-Forwarded-For "
        "the API believes (sign-in throttling and audit use the client address). Empty: none.",
    )
    api_docs: bool = Field(
        default=False,
        description="Serve the interactive API docs (Swagger UI, a pinned release loaded from "
        "cdn.jsdelivr.net with subresource integrity) at /api/docs. Off by default: the page "
        "shares the console's origin. The OpenAPI document is always at /api/v1/openapi.json.",
    )
    api_head_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="Seconds a client has to send a request's line and headers to the API "
        "(from the connection's opening, or a later request's first byte), whatever its pace; "
        "then 408 and the connection is closed.",
    )
    api_body_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        le=86400,
        description="Seconds a client has to send a request's whole body to the API after its "
        "headers (20 MiB in 120 s is about 1.4 Mbit/s); then 408 and the connection is closed.",
    )
    api_max_connections: int = Field(
        default=512,
        ge=1,
        le=1_000_000,
        description="Open connections (or requests in progress) the API serves at once; a "
        "request beyond it is answered 503 with Retry-After.",
    )
    api_max_concurrent_uploads: int = Field(
        default=4,
        ge=1,
        le=10_000,
        description="Requests per API process that may send a body over 64 KiB at once "
        "(evidence uploads, estate files, classify payloads); one more is 503 with Retry-After.",
    )
    gateway_port: int = Field(default=8701, ge=1, le=65535)
    audit_anchor_file: Path | None = Field(
        default=None,
        description="Append-only file of audit-chain anchors; default "
        "<data_dir>/audit-anchors.jsonl. Put it on other storage than the database.",
    )
    audit_anchor_seconds: int = Field(
        default=300,
        ge=0,
        description="How often `ringfence serve` anchors the audit chain (0: never).",
    )
    connectors_file: Path | None = Field(
        default=None,
        description="connectors.yaml for response actions started from the API or `serve` "
        "(revoke_oauth_grants steps).",
    )
    respond_watch_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How often `ringfence serve` turns matching alerts into incidents (0: off).",
    )
    log_format: str = Field(default="auto", description="auto | json | console")
    log_level: str = "info"
    require_services: bool = False

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, v: str) -> str:
        if v not in {"auto", "json", "console"}:
            raise ValueError("must be one of auto, json, console")
        return v

    @field_validator("store_url")
    @classmethod
    def _store_url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not (v.startswith("sqlite") or v.startswith("postgresql")):
            raise ValueError("store_url must be a sqlite:/// or postgresql+psycopg:// URL")
        return v

    @property
    def resolved_store_url(self) -> str:
        if self.store_url:
            return self.store_url
        return f"sqlite:///{(self.data_dir / 'ringfence.db').resolve()}"

    @property
    def resolved_master_key_file(self) -> Path:
        return self.master_key_file or (self.data_dir / "master.key")

    @property
    def resolved_audit_anchor_file(self) -> Path:
        return self.audit_anchor_file or (self.data_dir / "audit-anchors.jsonl")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = Path(os.environ.get("RINGFENCE_SETTINGS_FILE", DEFAULT_SETTINGS_FILE))
        return (init_settings, env_settings, _YamlFileSource(settings_cls, path))


def load_settings(**overrides: Any) -> Settings:
    """Build settings; a bad value becomes one ConfigError naming the setting."""
    try:
        return Settings(**overrides)
    except PydanticValidationError as exc:
        problems = "; ".join(f"{_setting_name(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid settings: {problems}") from None


def _setting_name(loc: tuple[Any, ...]) -> str:
    """``RINGFENCE_API_PORT (api_port)``: the variable an operator sets, and the settings
    file's key (a value may come from either)."""
    if not loc:
        return "settings"
    key = ".".join(str(p) for p in loc)
    if len(loc) == 1 and str(loc[0]) in Settings.model_fields:
        return f"RINGFENCE_{str(loc[0]).upper()} ({key})"
    return key
