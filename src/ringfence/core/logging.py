"""Structured logging with structlog: JSON in production, pretty on a TTY.

A redaction processor runs last before rendering: values under secret-looking keys and
values that look like tokens are replaced with ``[REDACTED]``. This module must never let a
secret reach a log sink, so redaction is on for every configuration.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog

REDACTED = "[REDACTED]"

_SECRET_KEY = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|authorization|cookie|"
    r"credential|master[_-]?key|client[_-]?assertion|session)",
    re.IGNORECASE,
)
# Token shapes that must never be logged even under an innocent key.
_SECRET_VALUE = re.compile(
    # Our own credentials, by their prefixes (control-plane, gateway key, client secret,
    # personal, SCIM, questionnaire tokens) — not any rf_ name: rule ids such as
    # rf_gateway_revoked_credential are not secrets.
    r"(rf_(?:cp|gw|cs|pat|scim|vq)_[A-Za-z0-9_-]{16,}"
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"  # JWTs
    r"|AKIA[0-9A-Z]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{30,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"
    r"|sk_(live|test)_[A-Za-z0-9]{10,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----)"
)
# Keys that look secret-like but name something public. A master key's id is a fingerprint
# (SHA-256 of a prefix and the key, 64 bits shown): the audit record of a rotation or a backup
# must say which key, or "rotated [REDACTED] -> [REDACTED]" proves nothing.
_SAFE_KEYS = frozenset(
    {"token_id", "token_prefix", "secret_ref", "vault_ref", "session_id_hash", "master_key_id"}
)


def redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return _SECRET_VALUE.sub(REDACTED, value)
    if isinstance(value, Mapping):
        return redact_mapping(value)
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


def redact_mapping(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key not in _SAFE_KEYS and _SECRET_KEY.search(str(key)) and value not in (None, ""):
            out[key] = REDACTED
        else:
            out[key] = redact_value(value)
    return out


def redact_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: scrub secrets by key name and by value shape."""
    return redact_mapping(event_dict)


class _CurrentStderr:
    """Whatever ``sys.stderr`` is when a line is written (not when logging was configured), so
    a replaced stderr (a test's capture, a daemon's redirect) never receives a stale write."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def configure_logging(fmt: str = "auto", level: str = "info", stream: TextIO | None = None) -> None:
    """Configure structlog once per process. ``fmt``: auto | json | console."""
    out: Any = stream or _CurrentStderr()
    use_console = fmt == "console" or (fmt == "auto" and out.isatty())
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=out.isatty())
        if use_console
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name) if name else structlog.get_logger()
