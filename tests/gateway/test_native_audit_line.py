"""The audit line written natively (``_fastpath.audit_line``) is the line the JSONL sink writes
for the event: ``orjson.dumps(AuditEvent(...), option=OPT_APPEND_NEWLINE)``, byte for byte, or
None (the caller then builds the event). Generated fields — every escape, non-ASCII text,
surrogates, big and odd numbers, wrong types — are compared with orjson; no input crashes it.
The gateway suite (``conftest.LineAuditSink``, verify mode) compares every request's line too.
"""

from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from ringfence.gateway import fastpath
from ringfence.gateway.audit import AuditEvent, JsonlAuditSink

pytestmark = pytest.mark.skipif(
    not fastpath.AVAILABLE, reason="the _fastpath extension is not built"
)

_KINDS = "sssissfooooosooooiid"  # as the C table: s str, o str|None, i int, f float, d dict


def _line(*fields: Any) -> bytes | None:
    from ringfence.gateway._fastpath import audit_line

    return audit_line(*fields)  # type: ignore[no-any-return]


def _expected(fields: tuple[Any, ...]) -> bytes | None:
    try:
        return orjson.dumps(AuditEvent(*fields), option=orjson.OPT_APPEND_NEWLINE)
    except (orjson.JSONEncodeError, TypeError):
        return None


def _plain() -> tuple[Any, ...]:
    return (
        "2026-11-27T22:00:00.123456+00:00",
        "01936b2e-7c5f-7a3b-9d2e-0123456789ab",
        "POST",
        200,
        "allow",
        "ok",
        1.234,
        "127.0.0.1",
        "curl/8.5.0",
        "hr-to-crm",
        "01936b2e-0000-7000-8000-000000000001",
        "client-1",
        "jwt",
        "crm",
        "/contacts/{id}",
        None,
        "crm.example.com",
        4096,
        27,
        {},
    )


def test_the_plain_event_is_written_natively_as_orjson_writes_it() -> None:
    fields = _plain()
    line = _line(*fields)
    assert line is not None
    assert line == _expected(fields)
    assert orjson.loads(line)["class_uid"] == 4002


_TEXT_POOL = [chr(c) for c in range(0x00, 0x80)] + [
    "é",
    "€",
    "😀",
    "\u2028",
    "\ufeff",
    "\ud800",  # a lone surrogate: orjson refuses it, the native line declines
    "\udfff",
    "\x7f",
    "ÿ",
]


_NO_SURROGATES = [c for c in _TEXT_POOL if not "\ud800" <= c <= "\udfff"]


def _text(rng: random.Random) -> str:
    n = rng.choice([0, 1, 2, 5, 20, 200])
    pool = _TEXT_POOL if rng.random() < 0.02 else _NO_SURROGATES
    return "".join(rng.choice(pool) for _ in range(n))


def _value(kind: str, rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.003:  # a wrong type
        return rng.choice([b"bytes", 1, 1.5, True, None, [], {"a": 1}, object(), "s"])
    if kind in "so":
        if kind == "o" and roll < 0.3:
            return None
        return _text(rng)
    if kind == "i":
        return rng.choice(
            [0, 1, -1, 200, 599, 2**31, 2**63 - 1, -(2**63), 2**63, 2**64, 10**30, True]
        )
    if kind == "f":
        if roll < 0.7:
            return rng.randrange(0, 10**9) / 1000
        return rng.choice(
            [
                0.0,
                -0.0,
                0.001,
                0.0001,
                1e-05,
                1.0,
                1.5,
                0.1 + 0.2,
                123.456,
                rng.randrange(0, 10**9) / 1000,
                rng.random() * 10 ** rng.randrange(-8, 18),
                1e15,
                1e16,
                float("inf"),
                float("nan"),
                -1.0,
            ]
        )
    return {} if roll < 0.9 else rng.choice([{"request": {"types": {"email": 1}}}, {1: 2}])


def test_generated_fields_give_orjsons_line_or_none() -> None:
    rng = random.Random(1414)
    native = 0
    for _ in range(20_000):
        fields = tuple(_value(k, rng) for k in _KINDS)
        line = _line(*fields)
        if line is None:
            continue
        native += 1
        assert line == _expected(fields), fields
    assert native > 2_000  # the generator makes plain events often enough


def test_every_escape_and_non_ascii_text_in_every_string_field() -> None:
    every = "".join(chr(c) for c in range(0x80)) + "é€😀\u2028"
    for i, kind in enumerate(_KINDS):
        if kind not in "so":
            continue
        fields = list(_plain())
        fields[i] = every
        line = _line(*fields)
        assert line is not None and line == _expected(tuple(fields))


def test_wrong_argument_counts_raise_and_odd_objects_decline() -> None:
    from ringfence.gateway._fastpath import audit_line

    with pytest.raises(TypeError):
        audit_line()
    with pytest.raises(TypeError):
        audit_line(*_plain(), None)

    class Text(str):
        pass

    class Number(int):
        pass

    for i in range(len(_KINDS)):
        for odd in (Text("x"), Number(3), 2.5, b"x", None, True, [1], {"k": "v"}):
            fields = list(_plain())
            fields[i] = odd
            line = audit_line(*fields)
            assert line is None or line == _expected(tuple(fields)), (i, odd)
    assert sys.getrefcount(_KINDS) > 0  # (nothing freed twice: the interpreter is alive)


async def test_a_jsonl_sink_gets_the_native_line(tmp_path: Path) -> None:
    sink = JsonlAuditSink(tmp_path / "audit.jsonl")
    assert sink.accepts_lines
    fields = _plain()
    line = _line(*fields)
    assert line is not None
    sink.emit_line(line)
    sink.emit(AuditEvent(*fields))
    await asyncio.sleep(0)
    sink.flush()
    await sink.aclose()
    lines = (tmp_path / "audit.jsonl").read_bytes().splitlines(keepends=True)
    assert lines == [line, line]
