"""The shared "did you mean" hint."""

from __future__ import annotations

import pytest

from ringfence.core.suggest import closest, did_you_mean


@pytest.mark.parametrize(
    ("name", "known", "expected"),
    [
        ("page_sise", ["page_size", "base_url"], "page_size"),
        ("PAGE_SIZE", ["page_size"], None),  # case matters: callers normalise first
        ("zzz", ["page_size", "base_url"], None),
        ("anything", [], None),
    ],
)
def test_closest_names_the_nearest_known_name_or_none(
    name: str, known: list[str], expected: str | None
) -> None:
    assert closest(name, known) == expected


def test_closest_is_independent_of_the_order_of_known_names() -> None:
    assert closest("sinks", ["sink", "sinkz"]) == closest("sinks", ["sinkz", "sink"])


def test_did_you_mean_is_empty_when_nothing_is_near() -> None:
    assert did_you_mean("zzz", ["page_size"]) == ""


def test_did_you_mean_plain_and_quoted() -> None:
    assert did_you_mean("page_sise", ["page_size"]) == " (did you mean page_size?)"
    assert did_you_mean("page_sise", ["page_size"], quote=True) == " (did you mean 'page_size'?)"
