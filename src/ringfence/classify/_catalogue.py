"""The built-in catalogue: every personal, financial and secret data type, by stable id.

Also holds the special ``generic_secret_field`` type, confirmed from JSON/CSV/form key names
rather than from a value pattern. Read-only data; never evaluates or logs a value.
"""

from __future__ import annotations

from ringfence.classify._model import Detector
from ringfence.classify._pii import PII_DETECTORS
from ringfence.classify._secrets import SECRET_DETECTORS
from ringfence.core.levels import DataClass

GENERIC_SECRET_FIELD = Detector(
    id="generic_secret_field",
    name="Secret in a key-like field (password, token, api_key, ...)",
    data_class=DataClass.RESTRICTED,
    category="secret",
    # Only wakes the key-name check; the value itself is judged by entropy and length.
    pattern=r"secret|token|api[_\-]?key|apikey|passw|passphrase|pwd|credential|private[_\-]?key|access[_\-]?key",
    validator_name="key name + entropy",
    base=0.75,
    caseless=True,
    mask="full",
    example='{"client_secret": "Zq8vL2mN4pR7tY1wX5cB"}',
    source="gitleaks generic-api-key rule idea: key-like name + entropy",
)

BUILTIN_DETECTORS: tuple[Detector, ...] = (*PII_DETECTORS, *SECRET_DETECTORS, GENERIC_SECRET_FIELD)

#: Well-known test values that must never block traffic (issuer test cards, doc examples).
DEFAULT_ALLOWLIST: tuple[str, ...] = (
    "4111111111111111", "4242424242424242", "4012888888881881", "4000056655665556",
    "5555555555554444", "5105105105105100", "5200828282828210", "2223003122003222",
    "378282246310005", "371449635398431", "6011111111111117", "6011000990139424",
    "3530111333300000", "3566002020360505", "30569309025904", "38520000023237",
    "6200000000000005", "AKIAIOSFODNN7EXAMPLE", "GB82WEST12345698765432",
)  # fmt: skip


def catalogue() -> list[dict[str, str]]:
    """One row per built-in type, for docs and ``ringfence scan --list-types``."""
    return [
        {
            "id": d.id,
            "name": d.name,
            "class": d.data_class.label,
            "category": d.category,
            "validator": d.validator_name or "pattern",
            "context": "required" if d.needs_context else "boosts",
        }
        for d in BUILTIN_DETECTORS
    ]
