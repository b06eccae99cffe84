"""The classify inspector remembers the DLP gate's verdict on short bodies (an upstream's
``{"ok":true}`` answered again and again): the verdicts, findings and redactions are the same
as asking the engine each time, for clean and sensitive bodies, in every content type, and
the memory stays bounded."""

from __future__ import annotations

import pytest

from ringfence.gateway import inspect as gw_inspect
from ringfence.gateway.inspect import ClassifyInspector, default_inspector


class CountingClassifier:
    """The engine, with its gate's calls counted."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.gate_calls = 0

    def may_find(self, data: bytes) -> bool:
        self.gate_calls += 1
        return bool(self.inner.may_find(data))  # type: ignore[attr-defined]

    def scan(self, data: bytes, content_type: str | None = None) -> object:
        return self.inner.scan(data, content_type)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def engine() -> object:
    reference = default_inspector("classify")
    assert isinstance(reference, ClassifyInspector)
    return reference._classifier


BODIES = [
    b'{"ok":true}',
    b'{"ok":true,"items":[1,2,3]}',
    b"[]",
    b'{"email":"alice@example.com"}',
    b'{"card":"4111 1111 1111 1111"}',
    b"contact bob@example.org today",
    b'{"note":"caf\\u00e9"}',
    '{"name":"Zoë"}'.encode(),
    b"a=b&c=alice%40example.com",
]
TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded", "text/csv"]


def _view(hits: list[gw_inspect.Hit]) -> list[tuple[str, int, int]]:
    return [(h.type_id, h.start, h.end) for h in hits]


def test_remembered_verdicts_give_the_same_findings(engine: object) -> None:
    counting = CountingClassifier(engine)
    remembering = ClassifyInspector(counting)
    for _round in range(3):
        for body in BODIES:
            for ctype in TYPES:
                fresh = ClassifyInspector(engine).scan_bytes(body, ctype)
                assert _view(remembering.scan_bytes(body, ctype)) == _view(fresh), (body, ctype)
    # the gate was asked once per distinct short body (forms go to the engine, which gates)
    assert counting.gate_calls == len(BODIES)


def test_a_long_body_asks_the_gate_every_time(engine: object) -> None:
    counting = CountingClassifier(engine)
    remembering = ClassifyInspector(counting)
    body = b'{"note":"' + b"x" * gw_inspect.SHORT_BODY + b'"}'
    for _ in range(3):
        assert remembering.scan_bytes(body, "application/json") == []
    assert counting.gate_calls == 3


def test_the_memory_is_bounded(engine: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gw_inspect, "SHORT_VERDICTS", 8)
    remembering = ClassifyInspector(engine)
    for i in range(100):
        assert remembering.scan_bytes(b'{"n":%d}' % i, "application/json") == []
        assert len(remembering._short_verdicts) <= 8
    hits = remembering.scan_bytes(b'{"email":"carol@example.com"}', "application/json")
    assert [h.type_id for h in hits] == ["email_address"]
