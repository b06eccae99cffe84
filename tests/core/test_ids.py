"""Identifiers are canonical UUIDv7 text, unique and ordered by creation time."""

from __future__ import annotations

import time
import uuid

from ringfence.core.ids import new_id


def test_ids_are_canonical_uuid7_text() -> None:
    for _ in range(2000):
        text = new_id()
        parsed = uuid.UUID(text)
        assert str(parsed) == text  # lower-case hex, 8-4-4-4-12
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122


def test_ids_carry_their_creation_millisecond_and_sort_by_it() -> None:
    before = time.time_ns() // 1_000_000
    first = new_id()
    time.sleep(0.002)
    second = new_id()
    after = time.time_ns() // 1_000_000
    ms = uuid.UUID(first).int >> 80
    assert before <= ms <= after
    assert first < second


def test_ids_do_not_repeat() -> None:
    ids = [new_id() for _ in range(50_000)]
    assert len(set(ids)) == len(ids)


def test_threads_never_share_random_bits() -> None:
    # the random bits come in batches; threads taking from one batch must each get their own
    import threading

    out: list[list[str]] = [[] for _ in range(8)]

    def take(bucket: list[str]) -> None:
        for _ in range(5_000):
            bucket.append(new_id())

    threads = [threading.Thread(target=take, args=(b,)) for b in out]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    randoms = [uuid.UUID(i).int & ((1 << 62) - 1) for b in out for i in b]
    assert len(set(randoms)) == len(randoms)


def test_a_forked_child_does_not_reuse_the_parents_batch() -> None:
    import os

    new_id()  # the parent holds a partly used batch
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        os.write(write, ",".join(new_id() for _ in range(10)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        child = f.read().decode().split(",")
    os.waitpid(pid, 0)
    parent = [new_id() for _ in range(10)]
    mask = (1 << 62) - 1
    assert not {uuid.UUID(i).int & mask for i in child} & {uuid.UUID(i).int & mask for i in parent}
