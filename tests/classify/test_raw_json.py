"""The raw JSON path reads a body exactly like the parse-and-walk path it replaces.

``_native.json_raw`` scans a JSON body's bytes once and builds a ``Leaf`` only for the fields
the engine looks at. These tests hold it to the reference (``orjson.loads`` + the Python leaf
walk + the scan buffer of ``_confirm_leaves``) field by field, and hold a ``Classifier`` using
it to one with ``raw_json=False`` finding by finding: on both accuracy corpora, the SaaS and
benchmark payloads, generated documents, hand-written JSON with escapes, duplicate keys,
look-alike characters and odd numbers, and mutated bytes. Whatever json_raw accepts, orjson
must accept; whatever it declines goes to the reference path.
"""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ringfence.classify import Classifier, RedactionMode, RedactionPolicy
from ringfence.classify import _extract as ex
from ringfence.classify._accel import NATIVE
from ringfence.classify._engine import SEP
from ringfence.classify._redact import redact
from tests.classify.accuracy_report import MAIN_SEED, MAIN_SIZE, SECOND_SEED, SECOND_SIZE
from tests.classify.corpus import clean_payload, corpus, payload, typical_payload
from tests.classify.test_native import python_join
from tests.classify.test_properties import json_values
from tests.classify.test_saas_payloads import (
    GITHUB_PUSH,
    METRICS,
    SALESFORCE,
    SLACK_EVENT,
    STRIPE_EVENT,
)

pytestmark = pytest.mark.skipif(NATIVE is None, reason="native extension not built")
FAST = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
Pair = tuple[Classifier, Classifier]


@pytest.fixture(scope="module")
def pair() -> Pair:
    if NATIVE is None:
        pytest.skip("native extension not built")
    return Classifier(), Classifier(raw_json=False)


def json_raw(body: bytes) -> Any:
    assert NATIVE is not None
    return NATIVE.json_raw(body, SEP, ex.Leaf, ex.norm_key, ex.normalize)


def check_read(body: bytes) -> bool:
    """json_raw's reading of ``body`` equals the reference's; False when it declined."""
    got = json_raw(body)
    if got is None:
        return False
    orjson.loads(body)  # nothing orjson rejects is taken
    ok, doc = ex.parse_json(body)
    assert ok, body
    leaves = ex.json_leaves(doc, (), None)  # the pure-Python walk
    raw, text, starts, data, scanned = got
    assert len(raw) == len(leaves)
    assert list(raw) == leaves
    assert raw.keys() == [leaf.key for leaf in leaves]
    assert not (len(leaves) == 1 and not leaves[0].key)  # scanned alone: left to the reference
    if leaves:
        assert (text, starts, data, scanned) == python_join(leaves)
    return True


def same_findings(pair: Pair, body: bytes, ctype: str | None = "application/json") -> None:
    fast, ref = pair
    a, b = fast.analyze(body, ctype), ref.analyze(body, ctype)
    assert a.kind == b.kind
    assert [(h.leaf, h.start, h.end, h.confidence, h.det.id) for h in a.hits] == [
        (h.leaf, h.start, h.end, h.confidence, h.det.id) for h in b.hits
    ]
    assert list(a.leaves) == list(b.leaves)
    assert fast.result(a) == ref.result(b)
    assert fast.scan(body, ctype) == ref.scan(body, ctype)


def test_benchmark_payloads_take_the_raw_path(pair: Pair) -> None:
    # the point of the path: the pages the gateway sees are not all declined
    for i in range(30):
        for body in (typical_payload(i), clean_payload(i)):
            assert check_read(body)
    assert all(check_read(payload(4096, seed=i)) for i in range(30))
    assert check_read(payload(1 << 20, seed=99))


def test_escaped_values_are_decoded_before_scanning(pair: Pair) -> None:
    body = (
        b'{"contact":"john\\u0040example.com","site":"https:\\/\\/x.io\\/ \\u0034539148803436467"}'
    )
    assert check_read(body)
    found = {f.type_id: f.path for f in pair[0].scan(body, "application/json").findings}
    assert found == {"email_address": "$.contact", "credit_card_number": "$.site"}
    same_findings(pair, body)


@pytest.mark.parametrize(("seed", "size"), [(MAIN_SEED, MAIN_SIZE), (SECOND_SEED, SECOND_SIZE)])
def test_same_findings_on_the_accuracy_corpus(pair: Pair, seed: int, size: int) -> None:
    taken = 0
    for rec in corpus(size, seed=seed):
        same_findings(pair, rec.body, rec.content_type)
        if rec.content_type == "application/json":
            taken += check_read(rec.body)
    assert taken > size // 4


@pytest.mark.parametrize("doc", [GITHUB_PUSH, STRIPE_EVENT, SLACK_EVENT, SALESFORCE, METRICS])
def test_same_findings_on_saas_payloads(pair: Pair, doc: dict[str, Any]) -> None:
    body = orjson.dumps(doc)
    check_read(body)
    same_findings(pair, body)
    same_findings(pair, orjson.dumps(doc, option=orjson.OPT_INDENT_2))


def test_same_findings_on_benchmark_payloads(pair: Pair) -> None:
    for i in range(40):
        for body in (typical_payload(i), payload(4096, seed=i), clean_payload(i)):
            same_findings(pair, body)
    for body in (typical_payload(3, size=256 << 10), payload(256 << 10, seed=4)):
        check_read(body)
        same_findings(pair, body)


def test_redaction_still_sees_the_same_values(pair: Pair) -> None:
    # redaction needs the parsed document and reads the reference path (whole=True)
    policy = RedactionPolicy(default=RedactionMode.MASK)
    for i in range(10):
        body = typical_payload(i)
        assert redact(pair[0], body, "application/json", policy) == redact(
            pair[1], body, "application/json", policy
        )


EDGE_BODIES = [
    b"{}",
    b"[]",
    b" \t\r\n[ ] \n",
    b'{"a":-0,"b":0,"c":-12,"d":7}',
    b"[123456789012345678,-123456789012345678]",
    b"[1234567890123456789]",
    b"[18446744073709551615, 18446744073709551616, -9223372036854775809]",
    b"[1.5, -0.0, 1e5, 1E+2, 2.5e-3, 1e-400]",
    b'[1e400, "john@example.com"]',
    b'[-1e400, "john@example.com"]',
    b'{"email":"a@example.com","email":"b@example.com"}',
    b'{"a":{"x":1},"b":{"x":2,"x":3}}',
    b'\xef\xbb\xbf{"email":"john@example.com"}',
    b'{"email":"john@example.com"} x',
    b'{"email":"john@example.com"}}',
    b'{"email":"john\x01@example.com"}',
    b'{"email":"john@example.com\x7f"}',
    b'{"e":"\xed\xa0\x80 john@example.com"}',
    b'{"e":"\xc0\xaf john@example.com"}',
    b'{"e":"\xf4\x90\x80\x80 john@example.com"}',
    b'{"e":"\xf0\x9f\x98\x80 john@example.com \xc3"}',
    b'{"e":"john\\u0040example.com"}',
    b'{"url":"https:\\/\\/example.com\\/?card=4111111111111111"}',
    b'{"k\\u00e9y":"john@example.com"}',
    b'{"e":"\\ud83d\\ude00 john\\u0040example.com \\u00e9\\u0301 \\uff14\\uff11 1111 1111 1111"}',
    b'{"e":"\\ud83d\\ude00","f":"\\u0000\\u001f\\"\\\\\\/\\b\\f\\n\\r\\t"}',
    b'{"e":"\\ud800","f":"x"}',
    b'{"e":"tail \\u12"}',
    b'{"e":"tail \\"}',
    b'"john@example.com"',
    b'["john@example.com"]',
    b'{"email":"john@example.com"}',
    b"4111111111111111",
    b'{"ssn":"123-45-6789"}',
    '{"phone":"+44 20 7946 0958","note":"call \uff0b\uff14\uff14 20 7946 0958"}'.encode(),
    '{"\uff45\uff4d\uff41\uff49\uff4c":"\uff4a\uff4f\uff48\uff4e\uff20example.com"}'.encode(),
    '{"Stra\u00dfe":"M\u00fcller","ne":"\u00e9"}'.encode(),
    '{"n":"caf\u0065\u0301 john@example.com"}'.encode(),  # NFKC changes the text
    b'{"' + b"k" * 41 + b'":"john@example.com","' + b"k" * 40 + b'":"x@example.org"}',
    b"[1,]",
    b"[01]",
    b"[1.]",
    b"[.5]",
    b"[+1]",
    b"[-]",
    b"[tru]",
    b"[nul]",
    b'{"a" "b"}',
    b'{"a":}',
    b'{,"a":1}',
    b'{"a":1,}',
    b"[",
    b'["unterminated',
    b'{"a":"x"',
    b'[true, false, null, [], {}, [[]], {"a": {}}]',
    # one-digit negative integers kept their sign only when the digit was 0 (fuzzing find)
    b'{"passport": -7, "x": "y"}',
    b'[-1, "a@b.co", -9, -0, -10, 0, 7]',
]


@pytest.mark.parametrize("body", EDGE_BODIES)
def test_edge_bodies_read_alike(pair: Pair, body: bytes) -> None:
    check_read(body)
    same_findings(pair, body)
    same_findings(pair, body, None)  # sniffed as JSON


@pytest.mark.parametrize(
    "body",
    [
        b'{"k\\u0065y":"john@example.com"}',
        b'["\\ud800 john@example.com", "x"]',
        b'["\\udc00 john@example.com", "x"]',
        b'["\\ud83d\\u0041 john@example.com", "x"]',
        b'["\\x41 john@example.com", "x"]',
        b'["\\u00G1 john@example.com", "x"]',
        b'"x"',
        b'["one key-less leaf"]',
        b"[1e400]",
        b"[12345678901234567890]",
        b'{"a":"\xff"}',
    ],
)
def test_what_json_raw_declines(body: bytes) -> None:
    assert json_raw(body) is None


def test_objects_with_many_keys_and_deep_nesting(pair: Pair) -> None:
    for n in (63, 64, 65, 200):
        doc = {f"k{i}": f"user{i}@example.com" for i in range(n)}
        body = orjson.dumps(doc)
        assert check_read(body)  # (session 11: no duplicate check, so no key limit)
        same_findings(pair, body)
    for depth in (1, 510, 511, 512, 513, 2000):
        text = '{"email":"john@example.com","n":1}'
        for i in range(depth - 1):  # ``depth`` containers in all
            text = f'[{text},"x"]' if i % 2 else f'{{"k":{text},"phone":"+44 20 7946 0958"}}'
        body = text.encode()
        assert check_read(body) == (depth <= 512)
        same_findings(pair, body)


def test_key_words_cache_evictions_read_alike(pair: Pair) -> None:
    """The (enclosing name, key) -> key words cache has 1024 two-way slots: thousands of
    pairs, each met twice and interleaved so sets fill, spill and evict while a body is read,
    still give the reference's key words (also with keys too long to be cached)."""
    for width in (3, 40, 41):
        doc = {
            f"g{g}": [{f"{'k' * (width - 3)}{i:03d}": f"a{g}.{i}@example.com"} for i in range(60)]
            * 2
            for g in range(40)
        }
        body = orjson.dumps(doc)
        for _ in range(2):  # the second read starts with the cache the first one left
            assert check_read(body)
            same_findings(pair, body)


def test_raw_doc_is_a_read_only_sequence() -> None:
    got = json_raw(b'{"a":{"bC":["x@example.com",5]},"d":"y"}')
    raw = got[0]
    assert len(raw) == 6  # three values, then the three distinct keys
    assert raw[0] == ex.Leaf(("a", "bC", 0), "a b c", "x@example.com")
    assert raw[1] == ex.Leaf(("a", "bC", 1), "a b c", "5")
    assert raw[2] == ex.Leaf(("d",), "d", "y")
    assert raw[3] == ex.Leaf(("a",), "", "a", ex.KEY_REF)
    assert raw[4] == ex.Leaf(("a", "bC"), "", "bC", ex.KEY_REF)
    assert raw[-1] == ex.Leaf(("d",), "", "d", ex.KEY_REF)
    assert raw[1] is raw[1]  # built once
    with pytest.raises(IndexError):
        raw[6]
    with pytest.raises(TypeError):
        raw[0] = raw[1]
    assert NATIVE is not None
    with pytest.raises(TypeError):
        NATIVE.json_raw("{}", SEP, ex.Leaf, ex.norm_key, ex.normalize)
    with pytest.raises(TypeError):
        NATIVE.json_raw(b"{}", SEP, dict, ex.norm_key, ex.normalize)
    with pytest.raises(ValueError):
        NATIVE.json_raw(b"{}", "\u00e9", ex.Leaf, ex.norm_key, ex.normalize)
    with pytest.raises(TypeError):
        NATIVE.json_raw('{"a":"\u00e9"}'.encode(), SEP, ex.Leaf, ex.norm_key, len)  # not a str


KEYS = ["email", "e", "phone", "ssn", "card_number", "dob", "orderId", "id", "name", "Ké", ""]
STRINGS = [
    "john.smith@example.com",
    "+44 20 7946 0958",
    "4111 1111 1111 1111",
    "4539 1488 0343 6467",
    "123-45-6789",
    "GB82 WEST 1234 5698 7654 32",
    "AKIAIOSFODNN7EXAMPLE",
    "order 123456789",
    "Zoë Müller",
    "\uff14\uff15\uff13\uff19 1488 0343 6467",  # fullwidth digits: NFKC
    "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "",
    "x",
]
NUMBERS = ["0", "-0", "7", "-12", "123456789", "4111111111111111", "1.5", "1e5", "-2.5E-3"]


@st.composite
def json_text(draw: st.DrawFn, depth: int = 0) -> str:
    """JSON written by hand: spacing, duplicate keys, escapes and number forms vary."""
    space = draw(st.sampled_from(["", " ", "\n  ", "\t", "\r\n"]))
    kind = draw(st.integers(0, 5 if depth < 4 else 2))
    if kind == 0:
        s = draw(st.sampled_from(STRINGS) | st.text(max_size=12))
        if draw(st.booleans()):
            return orjson.dumps(s).decode()
        return '"' + s.replace("\\", "").replace('"', "") + '"' if s.isprintable() else '"x"'
    if kind == 1:
        return draw(st.sampled_from(NUMBERS))
    if kind == 2:
        return draw(st.sampled_from(["true", "false", "null", '"a\\u0040b.com"', '"\\/"']))
    items = draw(st.lists(json_text(depth + 1), max_size=5))
    if kind == 3:
        return "[" + space + ("," + space).join(items) + space + "]"
    keys = draw(st.lists(st.sampled_from(KEYS), min_size=len(items), max_size=len(items)))
    pairs = [orjson.dumps(k).decode() + space + ":" + v for k, v in zip(keys, items, strict=True)]
    return "{" + space + ("," + space).join(pairs) + "}"


@FAST
@given(doc=json_values)
def test_generated_documents_read_alike(pair: Pair, doc: Any) -> None:
    body = orjson.dumps(doc)
    check_read(body)
    same_findings(pair, body)


@FAST
@given(text=json_text())
def test_hand_written_json_reads_alike(pair: Pair, text: str) -> None:
    body = text.encode("utf-8", "surrogatepass")
    check_read(body)
    same_findings(pair, body)


@FAST
@given(
    seed=st.integers(0, 50),
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255), st.integers(0, 2))),
)
def test_mutated_bodies_read_alike(
    pair: Pair, seed: int, edits: list[tuple[int, int, int]]
) -> None:
    body = bytearray(typical_payload(seed, size=512))
    for at, byte, op in edits:
        i = at % (len(body) + 1)
        if op == 0:
            body[i : i + 1] = bytes([byte])
        elif op == 1:
            body.insert(i, byte)
        else:
            del body[i : i + 1]
    check_read(bytes(body))
    same_findings(pair, bytes(body))


def test_random_bytes_never_crash(pair: Pair) -> None:
    r = random.Random(5)
    alphabet = b'{}[]",:0123456789-+.eE \\tn\xc3\xa9\xff@'
    for _ in range(3000):
        body = bytes(r.choice(alphabet) for _ in range(r.randrange(1, 64)))
        check_read(body)
        same_findings(pair, body)


@pytest.mark.parametrize("length", [*range(0, 26), 31, 32, 33, 40, 41, 64])
def test_duplicate_keys_of_every_length_are_read_wherever_they_end(length: int) -> None:
    # Keys are hashed eight bytes at a time, a last partial word read whole and masked while
    # the body goes on for eight more bytes, else byte by byte: a repeated key must be seen
    # both ways (one key leaf; every value read, as the reference does), and keys that differ
    # in any one byte must not be taken for one.
    key = "".join(chr(ord("a") + i % 26) for i in range(length))
    near_end = f'{{"x":1,"{key}":2,"{key}":3}}'.encode()  # the second key ends 5 bytes early
    far = f'{{"{key}":2,"{key}":3,"padding":"{"p" * 40}"}}'.encode()
    spaced = f'{{"{key}" : 1 ,\n "{key}":"v"}}'.encode()
    for body in (near_end, far, spaced):
        assert check_read(body), body
        raw = json_raw(body)[0]
        keys = [raw[i].text for i in range(len(raw)) if raw[i].ref == ex.KEY_REF]
        assert keys.count(key) == (1 if key else 0), body
    for i in range(length):
        other = key[:i] + ("Z" if key[i] != "Z" else "Y") + key[i + 1 :]
        for body in (
            f'{{"x":1,"{key}":"a@b.co","{other}":"+1 212 555 0100"}}'.encode(),
            f'{{"{other}":"x","{key}":"y","padding":"{"p" * 20}"}}'.encode(),
        ):
            assert check_read(body), body


@pytest.mark.parametrize("length", [0, 1, 7, 15, 16, 17, 31, 32, 33, 47, 48, 100, 257])
def test_plain_strings_read_alike_across_the_16_byte_steps(pair: Pair, length: int) -> None:
    # Plain string bytes are read 16 at a time: a stop byte (quote, backslash, control byte,
    # non-ASCII) at every offset of a step, and strings ending at the body's last bytes.
    base = "".join("abcdefghij+0123456789 @."[i % 24] for i in range(length))
    for stop in ('"', "\\n", "\\u00e9", "é", "\x01", "\\\\"):
        for at in {0, length // 2, max(0, length - 1), length}:
            text = base[:at] + stop + base[at:]
            body = ('{"note":"' + text + '","k":["' + base + '"]}').encode()
            check_read(body)
            same_findings(pair, body)
            body = ('["' + text + '"').encode()  # unterminated: ends inside the string
            assert json_raw(body) is None


def test_path_keys_are_shared_strings_and_stay_right_under_evictions() -> None:
    # A leaf's path parts come from a cache of raw key bytes -> str: the same key of every
    # record is one object (so a memoised path compares by identity), and 3,000 keys through
    # its 1,024 slots still give every path exactly.
    body = orjson.dumps({"results": [{"email": "a@b.co", "name": "x"} for _ in range(3)]})
    raw = json_raw(body)[0]
    paths = [raw[i].path for i in range(len(raw))]
    assert paths[0][-1] == "email" and paths[0][-1] is paths[2][-1] and paths[0][0] is paths[5][0]
    for seed in range(3):
        r = random.Random(seed)
        doc = {
            "".join(r.choice("abcdefghijklmnopqrstuvwxyz_-é") for _ in range(r.randint(1, 45))): {
                "v": f"+1 212 555 {r.randint(1000, 9999)}"
            }
            for _ in range(1000)
        }
        body = orjson.dumps({"outer": [{k: v} for k, v in doc.items()]})
        assert check_read(body)
