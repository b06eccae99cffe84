"""Builds the monitor of a runtime from ``<data_dir>/monitor.yaml``: rules, placeholders,
alert suppression, sinks, retention.

``monitor.yaml`` (all keys optional)::

    rules_dirs: [/etc/ringfence/rules]      # in addition to the bundled rules
    bundled_rules: true
    nats_stream: RINGFENCE_EVENTS           # with RINGFENCE_NATS_URL set
    nats_subject_prefix: ringfence
    nats_replicas: 1                        # JetStream replicas of the stream (1 to 5)
    nats_max_age_days: 7                    # how long the stream keeps a message
    placeholders: {admin_roles: [Global Administrator]}
    suppression_minutes: 60
    retention_days: {default: 90, okta: 365}
    ueba: {warmup_days: 7, warmup_events: 50, z_threshold: 3.5, max_kmh: 900}
    geoip: {asn_db: /var/lib/GeoIP/GeoLite2-ASN.mmdb, country_db: /srv/GeoLite2-Country.mmdb}
    apimon: {window: 60, min_requests: 20, error_rate: 0.5, auth_burst: 30}
    sinks:
      - {name: siem, type: syslog, host: 10.0.0.5, port: 514, protocol: tcp, format: cef}
      - {name: soar, type: webhook, url: https://soar.example/hook, secret_env: RF_HOOK_KEY}
      - {name: splunk, type: splunk_hec, url: https://splunk:8088, token_env: RF_HEC_TOKEN}
      - {name: chat, type: slack, url_env: RF_SLACK_WEBHOOK}   # the URL is the credential

Secrets are never written here: sinks name an environment variable or ``vault:NAME``.

The file is checked as a whole when it is read (:class:`MonitorConfig`): a wrong type, an
unknown key or a duplicate sink name is one ConfigError naming the key (``monitor.yaml:
sinks[1].port: ...``), never a TypeError somewhere later.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator
from pydantic import ValidationError as PydanticValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ringfence.core.errors import ConfigError
from ringfence.core.suggest import did_you_mean
from ringfence.monitor.alerts import AlertStore
from ringfence.monitor.apimon import ApiMonitor, ApiMonitorConfig
from ringfence.monitor.detect import SigmaDetector
from ringfence.monitor.geoip import GeoIP
from ringfence.monitor.service import Monitor
from ringfence.monitor.sigma.engine import BUNDLED_RULES, RuleSet
from ringfence.monitor.ueba import Ueba, UebaConfig
from ringfence.runtime import Runtime

T = TypeVar("T")

CONFIG_FILE = "monitor.yaml"


_Text = Annotated[str, Field(min_length=1)]
_Scalar = str | int | float | bool
_Number = Annotated[float, Field(strict=True)]  # a YAML int or float; not "60", not true
_Int = Annotated[int, Field(strict=True)]


class SinkConfig(BaseModel):
    """One entry of ``sinks:``; which keys a type needs is checked by ``build_sinks``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: _Text
    type: Literal["syslog", "webhook", "slack", "splunk_hec", "email"]
    host: _Text | None = None
    port: Annotated[int, Field(strict=True, ge=1, le=65535)] | None = None
    protocol: str | None = None
    format: str | None = None
    ca_file: _Text | None = None
    url: _Text | None = None
    # a webhook URL that is itself a credential (Slack's): from the environment or the vault
    url_env: _Text | None = None
    url_vault: _Text | None = None
    index: str | None = None
    sender: _Text | None = Field(default=None, alias="from")
    to: _Text | list[_Text] | None = None
    starttls: StrictBool | None = None
    username: str | None = None
    # Literal secrets are accepted here only so that build_sinks can refuse them with advice.
    secret: Any = None
    token: Any = None
    password: Any = None
    secret_env: _Text | None = None
    secret_vault: _Text | None = None
    token_env: _Text | None = None
    token_vault: _Text | None = None
    password_env: _Text | None = None
    password_vault: _Text | None = None


class GeoIPConfig(BaseModel):
    """MaxMind-format databases for UEBA's ASN / country terms (``monitor/geoip.py``)."""

    model_config = ConfigDict(extra="forbid")

    asn_db: _Text | None = None
    country_db: _Text | None = None


class MonitorConfig(BaseModel):
    """The shape of ``monitor.yaml``; every key optional."""

    model_config = ConfigDict(extra="forbid")

    rules_dirs: list[_Text] = []
    bundled_rules: StrictBool = True
    nats_stream: _Text = "RINGFENCE_EVENTS"
    nats_subject_prefix: _Text = "ringfence"
    # None: not set; the stream is created with 1 replica / 7 days and an existing one is
    # left as it is. Set: applied to the stream by every worker and publisher reading this.
    nats_replicas: Annotated[int, Field(strict=True, ge=1, le=5)] | None = None
    nats_max_age_days: Annotated[float, Field(strict=True, gt=0, le=36500)] | None = None
    placeholders: dict[str, list[_Scalar]] = {}
    suppression_minutes: Annotated[float, Field(strict=True, ge=0)] = 60
    retention_days: dict[str, _Int] = {}
    ueba: dict[str, _Number] = {}
    geoip: GeoIPConfig | None = None
    apimon: dict[str, _Number] = {}
    sinks: list[SinkConfig] = []

    @field_validator("sinks")
    @classmethod
    def _unique_sink_names(cls, sinks: list[SinkConfig]) -> list[SinkConfig]:
        seen: set[str] = set()
        for sink in sinks:
            if sink.name in seen:
                raise ValueError(f"two sinks are named {sink.name!r}")
            seen.add(sink.name)
        return sinks


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _config_error(path: Path, exc: PydanticValidationError) -> ConfigError:
    by_key: dict[str, list[str]] = {}
    for err in exc.errors(include_url=False, include_input=False):
        # Drop the names pydantic adds for the arm of a union ("str", "list[constrained-str]").
        loc = tuple(
            p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p in _UNION_ARMS))
        )
        msg = "unknown key" if err["type"] == "extra_forbidden" else str(err["msg"])
        msg = msg.removeprefix("Value error, ").split(" or instance of ")[0]
        by_key.setdefault(_where(loc), []).append(msg)
    problems = []
    for key, msgs in by_key.items():
        unique = list(dict.fromkeys(msgs))
        if len(unique) > 1 and all(m.startswith("Input should be ") for m in unique):
            unique = ["Input should be " + " or ".join(m[16:] for m in unique)]
        problems.append(f"{key}: {'; '.join(unique)}")
    return ConfigError(f"{path}: " + "; ".join(problems[:5]))


_UNION_ARMS = frozenset({"str", "int", "float", "bool", "constrained-str", "constrained-int"})


def load_config(data_dir: Path) -> dict[str, Any]:
    """``<data_dir>/monitor.yaml`` as read, after checking its shape ({} when absent)."""
    path = data_dir / CONFIG_FILE
    if not path.exists():
        return {}
    try:
        cfg = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except (YAMLError, OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read monitor config: {exc}") from None
    except (ValueError, TypeError, AssertionError, RecursionError) as exc:
        # ruamel raises these for some malformed values (a bad !!timestamp, a !!omap with
        # duplicate keys) instead of a YAMLError.
        raise ConfigError(f"{path}: cannot read monitor config ({type(exc).__name__})") from None
    if cfg is None:
        return {}
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path}: must be a mapping of settings (see docs/monitoring.md)")
    try:
        MonitorConfig.model_validate(cfg)
    except PydanticValidationError as exc:
        raise _config_error(path, exc) from None
    # The analysers' own sections too, so that every command reading monitor.yaml (deliver,
    # purge, rules list — not only the worker that builds the analysers) refuses a typo.
    try:
        _section(cfg, "ueba", UebaConfig)
        _section(cfg, "apimon", ApiMonitorConfig)
    except ConfigError as exc:
        raise ConfigError(f"{path}: " + exc.message.removeprefix("monitor.yaml: ")) from None
    return cfg


def nats_options(cfg: dict[str, Any]) -> dict[str, Any]:
    """The ``NatsBus`` keyword arguments ``monitor.yaml`` sets (stream, subject prefix,
    replicas, max age): every publisher and worker of a deployment uses the same."""
    max_age = cfg.get("nats_max_age_days")
    replicas = cfg.get("nats_replicas")
    return {
        "stream": str(cfg.get("nats_stream", "RINGFENCE_EVENTS")),
        "subject_prefix": str(cfg.get("nats_subject_prefix", "ringfence")),
        "replicas": int(replicas) if replicas is not None else None,
        "max_age_days": float(max_age) if max_age is not None else None,
    }


def load_rules(cfg: dict[str, Any]) -> RuleSet:
    dirs = [Path(str(d)) for d in cfg.get("rules_dirs") or []]
    if cfg.get("bundled_rules", True):
        dirs.insert(0, BUNDLED_RULES)
    for d in dirs:
        if not d.exists():
            raise ConfigError(f"monitor.yaml: rules directory {d} does not exist")
    placeholders = cfg.get("placeholders") or {}
    if not isinstance(placeholders, dict):
        raise ConfigError("monitor.yaml: placeholders must map a name to a list of values")
    return RuleSet.load(dirs, {str(k): [str(x) for x in v] for k, v in placeholders.items()})


def build_monitor(rt: Runtime, rules: RuleSet | None = None) -> Monitor:
    cfg = load_config(rt.settings.data_dir)
    sinks = [str(s.get("name")) for s in cfg.get("sinks") or [] if isinstance(s, dict)]
    alerts = AlertStore(
        rt.store,
        rt.clock,
        sinks=sinks,
        suppression=timedelta(minutes=float(cfg.get("suppression_minutes", 60))),
    )
    detector = SigmaDetector(rules or load_rules(cfg), alerts)
    geoip = GeoIP.from_config(cfg.get("geoip"))
    ueba = Ueba(rt.store, rt.clock, alerts, _section(cfg, "ueba", UebaConfig), geoip)
    apimon = ApiMonitor(alerts, _section(cfg, "apimon", ApiMonitorConfig))
    return Monitor(rt.store, rt.clock, analysers=[detector, ueba, apimon])


def _section(cfg: dict[str, Any], name: str, cls: type[T]) -> T:
    section = cfg.get(name) or {}
    if not isinstance(section, dict):
        raise ConfigError(f"monitor.yaml: {name} must be a mapping")
    fields = getattr(cls, "__dataclass_fields__", {})
    unknown = set(section) - set(fields)
    if unknown:
        hints = [key + did_you_mean(key, fields) for key in sorted(map(str, unknown))]
        raise ConfigError(f"monitor.yaml: unknown {name} settings: {', '.join(hints)}")
    values: dict[str, Any] = {}
    for k, v in section.items():
        default = getattr(cls(), k)
        if isinstance(default, int) and not float(v).is_integer():
            raise ConfigError(f"monitor.yaml: {name}.{k} must be a whole number")
        values[k] = (
            timedelta(seconds=float(v)) if isinstance(default, timedelta) else type(default)(v)
        )
    return cls(**values)


def configured_sinks(rt: Runtime) -> dict[str, Any]:
    """The sinks of ``<data_dir>/monitor.yaml`` by name (secrets resolved from the vault)."""
    from ringfence.monitor.sinks import build_sinks

    return build_sinks(list(load_config(rt.settings.data_dir).get("sinks") or []), rt.vault)


def configured_sink(rt: Runtime, name: str) -> Any:
    from ringfence.core.errors import ValidationError

    sinks = configured_sinks(rt)
    if name not in sinks:
        raise ValidationError(
            f"no sink {name!r} in monitor.yaml; configured: {', '.join(sorted(sinks)) or 'none'}"
        )
    return sinks[name]
