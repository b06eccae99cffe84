"""Builds the monitor of a runtime from ``<data_dir>/monitor.yaml``: rules, placeholders,
alert suppression, sinks, retention.

``monitor.yaml`` (all keys optional)::

    rules_dirs: [/etc/ringfence/rules]      # in addition to the bundled rules
    bundled_rules: true
    nats_stream: RINGFENCE_EVENTS           # with RINGFENCE_NATS_URL set
    nats_subject_prefix: ringfence
    placeholders: {admin_roles: [Global Administrator]}
    suppression_minutes: 60
    retention_days: {default: 90, okta: 365}
    ueba: {warmup_days: 7, warmup_events: 50, z_threshold: 3.5, max_kmh: 900}
    apimon: {window: 60, min_requests: 20, error_rate: 0.5, auth_burst: 30}
    sinks:
      - {name: siem, type: syslog, host: 10.0.0.5, port: 514, protocol: tcp, format: cef}
      - {name: soar, type: webhook, url: https://soar.example/hook, secret_env: RF_HOOK_KEY}
      - {name: splunk, type: splunk_hec, url: https://splunk:8088, token_env: RF_HEC_TOKEN}

Secrets are never written here: sinks name an environment variable or ``vault:NAME``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ringfence.core.errors import ConfigError
from ringfence.monitor.alerts import AlertStore
from ringfence.monitor.apimon import ApiMonitor, ApiMonitorConfig
from ringfence.monitor.detect import SigmaDetector
from ringfence.monitor.service import Monitor
from ringfence.monitor.sigma.engine import BUNDLED_RULES, RuleSet
from ringfence.monitor.ueba import Ueba, UebaConfig
from ringfence.runtime import Runtime

T = TypeVar("T")

CONFIG_FILE = "monitor.yaml"


def load_config(data_dir: Path) -> dict[str, Any]:
    path = data_dir / CONFIG_FILE
    if not path.exists():
        return {}
    try:
        cfg = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except (YAMLError, OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read monitor config: {exc}") from None
    if cfg is None:
        return {}
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path}: must be a mapping")
    return cfg


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
    ueba = Ueba(rt.store, rt.clock, alerts, _section(cfg, "ueba", UebaConfig))
    apimon = ApiMonitor(alerts, _section(cfg, "apimon", ApiMonitorConfig))
    return Monitor(rt.store, rt.clock, analysers=[detector, ueba, apimon])


def _section(cfg: dict[str, Any], name: str, cls: type[T]) -> T:
    section = cfg.get(name) or {}
    if not isinstance(section, dict):
        raise ConfigError(f"monitor.yaml: {name} must be a mapping")
    fields = getattr(cls, "__dataclass_fields__", {})
    unknown = set(section) - set(fields)
    if unknown:
        raise ConfigError(f"monitor.yaml: unknown {name} settings: {sorted(unknown)}")
    values: dict[str, Any] = {}
    for k, v in section.items():
        default = getattr(cls(), k)
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
