"""Review 10: hostile ``ringfence.yaml`` documents against the estate loader."""

from __future__ import annotations

import time

import pytest

from ringfence.inventory import _yamlsource
from ringfence.inventory.estate import EstateInvalid, parse_estate

HEAD = "apiVersion: ringfence/v1\n"


def _problems(text: str) -> list[str]:
    with pytest.raises(EstateInvalid) as info:
        parse_estate(text, "ringfence.yaml")
    return [str(p) for p in info.value.problems]


def test_a_document_with_too_many_nodes_is_refused_where_the_limit_is_hit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Finding #3: the node limit was checked only after ruamel had parsed the whole document
    (about 0.1 ms a node), so a 4 MiB API body of two-character flow items — two million
    nodes — took minutes of CPU and gigabytes before being refused. Parsing now stops at the
    first node past the limit (here lowered to 1,000; the document holds 100,000)."""
    monkeypatch.setattr(_yamlsource, "MAX_NODES", 1000)
    text = HEAD + "apps: [" + ",".join(["1"] * 100_000) + "]\n"
    started = time.process_time()
    problems = _problems(text)
    spent = time.process_time() - started
    assert len(problems) == 1 and "document too large (more than 1000 nodes" in problems[0]
    # where it stopped: the 1,000th item of line 2, not the whole document's end (or 1:1)
    assert problems[0].startswith("ringfence.yaml:2:"), problems
    assert spent < 3, f"{spent:.1f} s of CPU: the whole document was parsed"


def test_aliases_are_still_counted_after_parsing() -> None:
    laughs = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        laughs.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    problems = _problems(HEAD + "\n".join(laughs) + "\n")
    assert any("document too large" in p and "after aliases" in p for p in problems), problems
