"""Review 12: a name from a SaaS tenant is literal text in the Markdown posture report (the one
CI pipelines put in a job summary or a pull-request comment), never a link, an image, raw HTML
or emphasis; and it stays in its table cell."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

from ringfence.connectors import DiscoveredApp
from ringfence.posture import run_checks
from ringfence.posture.reports import render_markdown
from tests.posture.builders import healthy

HOSTILE = (
    "Drive Sync [Remediated - click to close](https://evil.example/phish) "
    '<img src="https://evil.example/pixel.png"> <a href="https://evil.example">docs</a> '
    "<https://evil.example/auto> ![logo](https://evil.example/l.png) **approved** `ok` "
    "&lt;b&gt; ~~critical~~ | extra cell\nsecond line"
)


def _html() -> tuple[str, str]:
    ctx = healthy()
    assert ctx.saas is not None
    ctx.saas.apps.append(DiscoveredApp("google_workspace", "c9", HOSTILE, "c9"))
    report = run_checks(ctx)
    assert any("Drive Sync" in f.failure.message for f in report.findings)
    md = render_markdown(report)
    return md, MarkdownIt("commonmark").enable("table").render(md)


def test_a_discovered_name_renders_as_text_in_the_markdown_report() -> None:
    _, html = _html()
    assert "<a " not in html and "<img" not in html and "<code>" not in html
    assert "<del>" not in html and "<s>" not in html and "<em>" not in html
    assert html.count("<strong>") == 1  # the report's own "Score **n**"
    assert "&lt;img src=&quot;https://evil.example/pixel.png&quot;&gt;" in html  # shown


def test_a_discovered_name_stays_in_its_cell() -> None:
    md, html = _html()
    row = next(line for line in md.splitlines() if "Drive Sync" in line)
    assert len(re.findall(r"(?<!\\)\|", row)) == 6  # 5 cells: no cell injected
    assert "second line" in row  # one line
    cells = [c for c in re.findall(r"<tr>(.*?)</tr>", html, re.S) if "Drive Sync" in c]
    assert len(cells) == 1 and cells[0].count("<td") == 5
