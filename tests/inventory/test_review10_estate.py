"""Review 10: hostile ``ringfence.yaml`` documents against the estate loader."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ringfence.core.errors import ValidationError
from ringfence.inventory import _yamlsource
from ringfence.inventory.estate import EstateInvalid, load_estate, parse_estate

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


# Finding #4: strings no store can hold, invisible or line-breaking characters in names, and
# terminal escapes echoed from the file.
UNSTORABLE = [
    ("nul-in-person-name", 'people:\n  - email: a@b.example\n    name: "a\\0b"\n', "4:11:"),
    ("nul-in-description", 'vendors:\n  - name: V\n    description: "x\\0y"\n', "4:18:"),
    (
        "nul-in-a-scope",
        "vendors: [{name: V}]\napps: [{name: A, vendor: V}]\nintegrations:\n"
        '  - {name: i, kind: service_account, destination: A, scopes: ["read\\0"]}\n',
        "5:63:",
    ),
    ("nul-in-a-key", 'vendors:\n  - name: V\n    "k\\0": 1\n', "4:5:"),
]


@pytest.mark.parametrize(
    ("text", "where"), [c[1:] for c in UNSTORABLE], ids=[c[0] for c in UNSTORABLE]
)
def test_a_nul_character_is_refused_where_it_stands(text: str, where: str) -> None:
    """Before: accepted, and apply on PostgreSQL failed with a raw psycopg DataError (a 500)."""
    problems = _problems(HEAD + text)
    assert any(p.startswith(f"ringfence.yaml:{where}") and "NUL" in p for p in problems), problems


@pytest.mark.parametrize(
    "name",
    [
        "a\\x85b",  # NEL: YAML reads it as a line break, so export -> plan renamed the vendor
        "a\\u2028b",
        "evil\\u202egnp.exe",  # right-to-left override
        "admin\\u200b",  # zero-width space: looks like "admin"
    ],
)
def test_names_with_invisible_or_line_breaking_characters_are_refused(name: str) -> None:
    problems = _problems(HEAD + f'vendors:\n  - name: "{name}"\n')
    assert any("control characters" in p for p in problems), problems


def test_a_person_name_is_one_line() -> None:
    problems = _problems(HEAD + 'people:\n  - email: a@b.example\n    name: "Ada\\nroot"\n')
    assert any("people[0] (a@b.example).name: must not contain control" in p for p in problems)


def test_terminal_escapes_in_names_and_keys_are_not_echoed() -> None:
    """Before: a name or key holding ESC sequences reached the operator's terminal / CI log as
    is (clear the screen, set the title, rewrite the line)."""
    text = HEAD + 'vendors:\n  - name: "\\e[2J\\e]0;t\\a\\rAll good"\n    "\\e[31mk": 1\n'
    problems = _problems(text)
    assert problems
    for p in problems:
        assert p.isprintable(), ascii(p)
        assert "\\x1b[2J" in p


def test_a_long_name_is_cut_in_messages() -> None:
    problems = _problems(HEAD + f"vendors:\n  - name: {'V' * 5000}\n    website: 1\n")
    assert problems and all(len(p) < 400 for p in problems), [len(p) for p in problems]


# Finding #8: the file named on the command line (in CI: from the pull request under review).
def test_a_device_is_not_read_as_an_estate(tmp_path: Path) -> None:
    link = tmp_path / "ringfence.yaml"
    link.symlink_to("/dev/null")  # /dev/zero (read until memory ran out) is refused the same way
    with pytest.raises(ValidationError, match="not a regular file"):
        load_estate(link)


@pytest.mark.timeout(10)
def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "ringfence.yaml"
    os.mkfifo(fifo)  # before: open() blocked until someone wrote to it
    with pytest.raises(ValidationError, match="not a regular file"):
        load_estate(fifo)


def test_a_file_past_the_size_limit_is_refused_before_it_is_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ringfence.inventory import estate

    monkeypatch.setattr(estate, "MAX_BYTES", 1000)
    big = tmp_path / "ringfence.yaml"
    big.write_text(HEAD + "# " + "x" * 5000 + "\n")
    with pytest.raises(EstateInvalid, match="larger than"):
        load_estate(big)
