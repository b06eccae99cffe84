"""The lean Redis client's shortcuts for the limiter's replies (``redisclient._Parser.feed``).

A read holding exactly one ``*2 :count :ttl`` reply, or several and nothing else, is parsed
by a regular expression instead of the general RESP parser. Whatever the bytes, the replies
must be the ones the general parser finds — split anywhere, mixed with other replies, or
malformed (a shortcut may only decline, never read a reply differently).
"""

from __future__ import annotations

import random

import pytest

from ringfence.gateway.redisclient import RedisErrorReply, _Parser


def _general(chunks: list[bytes]) -> list[object]:
    """The general parser alone: a buffer already holds a byte, so no shortcut applies."""
    p = _Parser()
    p._buf += b" "  # a sentinel in front: every read then goes through _parse
    out: list[object] = []
    for chunk in chunks:
        p._buf += chunk
        while True:
            res = p._parse(p._buf, 1)
            if res is None:
                break
            value, pos = res
            out.append(value)
            del p._buf[1:pos]
    return out


def _fed(chunks: list[bytes]) -> list[object]:
    p = _Parser()
    out: list[object] = []
    for chunk in chunks:
        out.extend(p.feed(chunk))
    return out


def _same(a: list[object], b: list[object]) -> bool:
    norm = [repr(x) if isinstance(x, RedisErrorReply) else x for x in a]
    return norm == [repr(x) if isinstance(x, RedisErrorReply) else x for x in b]


HIT = b"*2\r\n:7\r\n:60\r\n"
STREAMS = [
    HIT,
    HIT * 3,
    b"*2\r\n:-1\r\n:-2\r\n",
    b"*2\r\n:123456789012345678\r\n:0\r\n",
    HIT + b"+PONG\r\n",
    b"+OK\r\n" + HIT,
    HIT + b"-NOSCRIPT No matching script\r\n" + HIT,
    b"*2\r\n:7\r\n$2\r\n60\r\n",  # a bulk string where the ttl goes: not the shortcut's
    b"*3\r\n:7\r\n:60\r\n:1\r\n",
    b"*2\r\n:07\r\n:60\r\n",
]


@pytest.mark.parametrize("stream", STREAMS, ids=[str(i) for i in range(len(STREAMS))])
def test_whole_reads_give_the_general_parsers_replies(stream: bytes) -> None:
    assert _same(_fed([stream]), _general([stream]))


@pytest.mark.parametrize("stream", STREAMS, ids=[str(i) for i in range(len(STREAMS))])
def test_reads_split_anywhere_give_the_same_replies(stream: bytes) -> None:
    for cut in range(1, len(stream)):
        parts = [stream[:cut], stream[cut:]]
        assert _same(_fed(parts), _general(parts)), parts


def test_random_splits_of_mixed_streams() -> None:
    rng = random.Random(12)
    pieces = [HIT, b"*2\r\n:-3\r\n:-1\r\n", b"+PONG\r\n", b"$3\r\nabc\r\n", b"$-1\r\n", b":5\r\n"]
    for _ in range(500):
        stream = b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 8)))
        cuts = sorted(rng.sample(range(1, len(stream)), min(3, len(stream) - 1)))
        parts = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
        assert _same(_fed(parts), _general(parts)), parts


def test_a_malformed_read_is_not_taken_for_a_hit() -> None:
    with pytest.raises(ValueError):
        _Parser().feed(b"*2\r\n:x\r\n:60\r\n")
