"""Session 11 review: every parser answers any record with events or ``RecordError``.

Found by mutating each vendor template at every path: an Entra audit record whose
``modifiedProperties`` is not a list, and a gateway event whose ``dlp.action`` is a list,
raised ``TypeError`` — an error that stopped a whole ``ringfence ingest`` / push, and that the
gateway's spool would replay and be refused for ever, ahead of every event spooled after it.
Both records are now parsed; any other parser bug is that record's ``RecordError``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from ringfence.bus.base import decode_batch, encode_batch
from ringfence.monitor.parsers import PARSERS, RecordError
from ringfence.monitor.samples import TEMPLATES
from ringfence.monitor.storage import unstorable

ODD: list[Any] = [None, 0, -1, 1.5, True, "", [], {}, [1, "a"], {"a": {}}, "\x00", 10**30]


def _paths(d: Any, pre: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    items = d.items() if isinstance(d, dict) else enumerate(d) if isinstance(d, list) else ()
    for k, v in items:
        yield (*pre, k)
        yield from _paths(v, (*pre, k))


def _set(d: Any, path: tuple[Any, ...], value: Any) -> None:
    for k in path[:-1]:
        d = d[k]
    d[path[-1]] = value


def _parser(template: str) -> Any:
    return PARSERS.get(template) or PARSERS[template.split("_")[0]]


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_any_mutation_of_a_record_is_events_or_record_error(template: str) -> None:
    parse = _parser(template)
    for path in _paths(TEMPLATES[template]):
        for value in ODD:
            rec = copy.deepcopy(TEMPLATES[template])
            _set(rec, path, copy.deepcopy(value))
            try:
                events = parse(rec)
            except RecordError:
                continue
            storable = [e for e in events if unstorable(e) is None]
            # what is accepted also crosses the bus intact
            assert [e.id for e in decode_batch(encode_batch(storable))] == [e.id for e in storable]


def test_entra_modified_properties_that_are_not_a_list_are_ignored() -> None:
    rec = copy.deepcopy(TEMPLATES["entra_audit"])
    rec["targetResources"][0]["modifiedProperties"] = -1
    (event,) = PARSERS["entra"](rec)
    assert "privileges" not in event.ocsf


def test_gateway_dlp_action_that_is_not_text_is_no_action() -> None:
    rec = copy.deepcopy(TEMPLATES["ringfence"])
    rec["dlp"] = {"action": [], "request": {"action": "block", "types": {}}}
    (event,) = PARSERS["ringfence"](rec)
    assert event.raw["dlp"]["request"]["action"] == "block"


def test_a_parser_bug_is_the_records_error() -> None:
    from ringfence.monitor.parsers import _total

    def buggy(record: Any) -> list[Any]:
        return sorted(record["items"])  # TypeError on mixed types

    with pytest.raises(RecordError, match=r"malformed record \(TypeError: "):
        _total(buggy)({"items": [1, "a"]})
