"""The gateway's request ids made natively (``_fastpath.request_id``, ``fastpath.request_id``)
are ``ringfence.core.ids.new_id``'s UUIDv7: same layout, time, randomness source; a forked
child never repeats its parent's random bits."""

from __future__ import annotations

import os
import re
import time
import uuid

import pytest

from ringfence.core.ids import new_id
from ringfence.gateway import fastpath

pytestmark = pytest.mark.skipif(
    not fastpath.AVAILABLE, reason="the _fastpath extension is not built"
)

_FORM = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z")


def native() -> str:
    from ringfence.gateway._fastpath import request_id

    made = request_id()
    assert made is not None
    return made


def test_a_native_id_is_a_uuid7_like_new_ids() -> None:
    for made in (native() for _ in range(2000)):
        assert _FORM.match(made), made
        u = uuid.UUID(made)
        assert u.version == 7 and u.variant == uuid.RFC_4122
    assert _FORM.match(new_id())
    assert fastpath.request_id() != fastpath.request_id()


def test_the_time_is_the_unix_time_in_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    made = native()
    after = time.time_ns() // 1_000_000
    assert before <= int(made.replace("-", "")[:12], 16) <= after
    # and in the same place as new_id's, so both sort together
    assert abs(int(made[:8], 16) - int(new_id()[:8], 16)) <= 1


def test_ids_do_not_repeat_across_many_batches() -> None:
    made = [native() for _ in range(20_000)]  # ~80 batches of random bits
    assert len(set(made)) == len(made)
    # the 74 random bits look random: every hex digit of the last group shows up
    assert set("".join(m[-12:] for m in made[:500])) == set("0123456789abcdef")


def test_a_forked_child_does_not_reuse_the_parents_batch() -> None:
    native()  # a batch is in use in the parent
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, then exit without cleanup
        os.close(read)
        os.write(write, "".join(native()[-12:] for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    child = b""
    while chunk := os.read(read, 4096):
        child += chunk
    os.close(read)
    os.waitpid(pid, 0)
    parent = "".join(native()[-12:] for _ in range(50))
    assert len(child) == 600
    assert child.decode() != parent  # the parent's next random bits are not the child's
