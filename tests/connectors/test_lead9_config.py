"""connectors.yaml: a value of the wrong type is a validation error naming it (session 9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ringfence.connectors import load_connector_configs
from ringfence.core.errors import ValidationError


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ("vendor: [okta]", "vendor must be a string, not list"),
        ("vendor: {a: 1}", "vendor must be a string, not dict"),
        ("base_url: [x]", "base_url must be a string, not list"),
        ("credential: 12", "credential must be a string, not int"),
    ],
)
def test_wrong_types_are_named(tmp_path: Path, line: str, named: str) -> None:
    item = {
        "vendor": "vendor: okta",
        "base_url": "base_url: https://example.okta.com",
        "credential": "credential: env:OKTA_TOKEN",
    }
    item[line.split(":", 1)[0]] = line
    path = tmp_path / "connectors.yaml"
    path.write_text("connectors:\n  - " + "\n    ".join(item.values()) + "\n")
    with pytest.raises(ValidationError, match=named) as err:
        load_connector_configs(path)
    assert "connectors[0]" in str(err.value)
