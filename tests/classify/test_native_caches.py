"""Verdict caches of the native loops change nothing but speed.

``context_matches`` remembers, within one call, whether each key names the detector's type
(128 sets of two, picked by the key's str hash): many keys, some naming the type and some
not, interleaved and repeated so sets fill and spill, give the findings of the pure-Python
engine.
"""

from __future__ import annotations

import orjson
import pytest

from ringfence.classify import Classifier
from ringfence.classify._accel import NATIVE

pytestmark = pytest.mark.skipif(NATIVE is None, reason="native extension not built")


def test_many_keys_with_and_without_context_find_alike() -> None:
    nat, py = Classifier(native=True), Classifier(native=False)
    for n in (20, 300, 1000):
        records = []
        for i in range(n):
            key = f"phone {i}" if i % 3 == 0 else f"note {i}"
            # a national number: only confirmed where the key (or a word before it) says phone
            records.append({key: f"(415) 555-{2600 + i % 100:04d}", "contact": f"x{i}"})
        body = orjson.dumps({"rows": records + records[::-1]})
        got = nat.scan(body, "application/json")
        assert got == py.scan(body, "application/json")
        assert any(f.type_id == "phone_number_national" for f in got.findings)
        assert not any("note" in f.path for f in got.findings)
