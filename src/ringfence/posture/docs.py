"""Generate the checks table of docs/posture.md (and the permissions table of
docs/connectors.md) from the catalogue metadata, so the docs cannot drift from the code.

``python -m ringfence.posture.docs`` rewrites the marked blocks in place; a test fails when
they are out of date. Writes only between the markers.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ringfence.connectors import CONNECTORS
from ringfence.connectors.permissions import PERMISSIONS
from ringfence.posture.catalogue import all_checks

CHECKS_START, CHECKS_END = "<!-- checks:start -->", "<!-- checks:end -->"
PERMS_START, PERMS_END = "<!-- permissions:start -->", "<!-- permissions:end -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def checks_table() -> str:
    lines = [
        f"{len(all_checks())} checks.",
        "",
        "| id | severity | title | resource | needs | CIS v8 | ISO 27001:2022 | SOC 2 "
        "| NIST CSF 2.0 | remediation |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in all_checks():
        m = c.meta
        mp = m.mappings
        lines.append(
            f"| {m.id} | {m.severity.label} | {_cell(m.title)} | {m.resource_type} | "
            f"{', '.join(m.requires) or 'inventory'} | {', '.join(mp.cis)} | "
            f"{', '.join(mp.iso27001)} | {', '.join(mp.soc2)} | {', '.join(mp.nist_csf)} | "
            f"{_cell(m.remediation)} |"
        )
    return "\n".join(lines)


def permissions_table() -> str:
    lines = [
        "| vendor | credential | read-only (default) | response actions add |",
        "|---|---|---|---|",
    ]
    for vendor in sorted(CONNECTORS):
        p = PERMISSIONS[vendor]
        lines.append(
            f"| {vendor} | {_cell(p.credential)} | {'<br>'.join(map(_cell, p.read))} "
            f"| {'<br>'.join(map(_cell, p.actions))} |"
        )
    return "\n".join(lines)


def replace_block(text: str, start: str, end: str, body: str) -> str:
    if start not in text or end not in text:
        raise ValueError(f"markers {start} / {end} not found")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}\n{end}{tail}"


def render(root: Path) -> dict[Path, str]:
    posture = root / "docs" / "posture.md"
    connectors = root / "docs" / "connectors.md"
    return {
        posture: replace_block(
            posture.read_text(encoding="utf-8"), CHECKS_START, CHECKS_END, checks_table()
        ),
        connectors: replace_block(
            connectors.read_text(encoding="utf-8"), PERMS_START, PERMS_END, permissions_table()
        ),
    }


def main(argv: list[str] | None = None) -> int:
    root = Path(argv[0]) if argv else Path.cwd()
    for path, text in render(root).items():
        path.write_text(text, encoding="utf-8")
        print(f"updated {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
