"""docs/posture.md and docs/connectors.md carry tables generated from the code: keep them true."""

from __future__ import annotations

from pathlib import Path

import pytest

from ringfence.posture import all_checks
from ringfence.posture.docs import checks_table, render, replace_block

ROOT = Path(__file__).resolve().parents[2]


def test_docs_tables_match_the_code() -> None:
    for path, expected in render(ROOT).items():
        assert path.read_text(encoding="utf-8") == expected, (
            f"{path.name} is stale: run `python -m ringfence.posture.docs`"
        )


def test_every_check_is_in_the_table() -> None:
    table = checks_table()
    for c in all_checks():
        assert f"| {c.meta.id} | {c.meta.severity.label} |" in table


def test_missing_markers_are_reported() -> None:
    with pytest.raises(ValueError, match="markers"):
        replace_block("no markers here", "<!-- a -->", "<!-- b -->", "x")
