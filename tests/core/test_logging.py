"""Logs are structured and never carry a secret, whatever key or shape it hides under."""

from __future__ import annotations

import io
import json

from ringfence.core.logging import configure_logging, get_logger


def test_json_logs_redact_secret_keys_and_token_shapes() -> None:
    buf = io.StringIO()
    configure_logging("json", "debug", stream=buf)
    log = get_logger("t")
    log.info(
        "connected",
        client_secret="hunter2hunter2",
        headers={"Authorization": "Bearer abc.def.ghi"},
        note="key AKIAABCDEFGHIJKLMNOP and ghp_" + "a" * 36,
        url="https://api.example.com",
        token_prefix="rf_key_ab",
    )
    line = buf.getvalue().strip()
    record = json.loads(line)
    assert record["event"] == "connected"
    assert "hunter2" not in line and "AKIA" not in line and "ghp_" not in line
    assert "abc.def.ghi" not in line
    assert record["url"] == "https://api.example.com"
    assert record["token_prefix"] == "rf_key_ab"


def test_a_master_key_id_is_a_public_fingerprint_not_redacted() -> None:
    """The audit record of a master-key rotation named neither key: '[REDACTED]'."""
    from ringfence.core.logging import redact_mapping

    out = redact_mapping({"master_key_id": "0123456789abcdef", "master_key": "c2VjcmV0"})
    assert out == {"master_key_id": "0123456789abcdef", "master_key": "[REDACTED]"}
