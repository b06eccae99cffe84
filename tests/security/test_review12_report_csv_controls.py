"""Review 12: the CSV posture report (printed to the terminal without --output-file) carries no
terminal control from a SaaS name; formula neutralising still applies."""

from __future__ import annotations

import csv
import io

from ringfence.connectors import DiscoveredApp
from ringfence.posture import run_checks
from ringfence.posture.reports import render_csv
from tests.posture.builders import healthy


def _csv(name: str) -> str:
    ctx = healthy()
    assert ctx.saas is not None
    ctx.saas.apps.append(DiscoveredApp("google_workspace", "c9", name, "c9"))
    return render_csv(run_checks(ctx))


def test_a_discovered_name_brings_no_terminal_control_into_the_csv_report() -> None:
    text = _csv("Drive\x1b[2J\x1b]8;;https://evil.example/\x1b\\Sync\x9b31m\u202eexe.fdp")
    for bad in ("\x1b", "\x9b", "\u202e"):
        assert bad not in text
    rows = [r for r in csv.DictReader(io.StringIO(text)) if "Drive" in r["message"]]
    assert rows and "Drive\ufffd[2J" in rows[0]["message"]


def test_formula_and_line_breaks_are_handled_as_before() -> None:
    text = _csv('=HYPERLINK("https://evil.example")\nsecond line')
    rows = [r for r in csv.DictReader(io.StringIO(text)) if "HYPERLINK" in r["message"]]
    assert rows and all(not v.startswith(("=", "+", "-", "@")) for v in rows[0].values())
    assert "\nsecond line" in rows[0]["message"]  # a quoted line break stays data
