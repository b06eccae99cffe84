"""The phone twin's digit tables shipped with the package are the compiler's own tables.

``_phone_tables.json`` holds ``compile_dfa(pattern)`` for every pattern of the metadata, so a
worker does not compile them on its first numbers (≈ 44 ms for +1's leading digits). A table
is looked up by the exact pattern text: a pattern the file does not hold is compiled as
before, so a ``phonenumbers`` upgrade can cost speed, never an answer.
"""

from __future__ import annotations

import base64
import json
import zlib

import phonenumbers
import pytest

from ringfence.classify import _phone_dfa as dfa


def _shipped() -> dict[str, bytes]:
    with open(dfa.SHIPPED_PATH, encoding="ascii") as f:
        doc = json.load(f)
    return dfa.unpack_tables(zlib.decompress(base64.b64decode(doc["tables"])))


def test_every_shipped_table_is_what_the_compiler_builds() -> None:
    shipped = _shipped()
    assert len(shipped) > 1000
    for pattern, table in shipped.items():
        assert table == dfa.compile_dfa(pattern), pattern


def test_the_shipped_file_covers_the_installed_metadata() -> None:
    with open(dfa.SHIPPED_PATH, encoding="ascii") as f:
        version = json.load(f)["phonenumbers"]
    if version != phonenumbers.__version__:
        pytest.skip(f"tables shipped for phonenumbers {version}: run _phone_dfa.write_shipped()")
    full, start = dfa.metadata_patterns()
    assert full | start <= set(_shipped())


def test_table_or_none_takes_the_shipped_table_and_compiles_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    marker = dfa.compile_dfa("12")
    monkeypatch.setattr(dfa, "_SHIPPED", {r"[2-9]\d{2}": marker})
    assert dfa.table_or_none(r"[2-9]\d{2}") is marker  # the shipped one, not compiled
    assert dfa.table_or_none(r"[1-5]\d{3}") == dfa.compile_dfa(r"[1-5]\d{3}")
    assert dfa.table_or_none(r"\w+") is None  # unsupported: still None


def test_a_missing_or_damaged_file_means_compiling(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory
) -> None:
    for text in (None, "{", '{"tables": "not base64 zlib"}', '{"other": 1}'):
        path = tmp_path / "tables.json"  # type: ignore[operator]
        if text is not None:
            path.write_text(text)
        monkeypatch.setattr(dfa, "SHIPPED_PATH", str(path))
        monkeypatch.setattr(dfa, "_SHIPPED", None)
        assert dfa.table_or_none(r"[2-9]\d{2}") == dfa.compile_dfa(r"[2-9]\d{2}")
        assert dfa._SHIPPED == {}


def test_pack_and_unpack_round_trip() -> None:
    tables = {"1": b"\x01\x02", "é\\d": b"", "": b"x" * 70000}
    assert dfa.unpack_tables(dfa.pack_tables(tables)) == tables
