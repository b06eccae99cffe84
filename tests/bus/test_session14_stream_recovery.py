"""Session 14: just after a NATS restart JetStream may still be recovering its streams from
disk — ours answers "not found" while its subjects are already taken, so creating it fails with
"subjects overlap with an existing stream" (err_code 10065). Before, that was a ConfigError and
the worker (or publisher) reconnecting after the outage died with it for good (seen in CI: a
private server restarted under load). Now the stream is looked at again a few times; a real
overlap with another stream is still refused."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import pytest
from nats.js.errors import APIError, NotFoundError

import ringfence.bus.nats as busnats
from ringfence.bus import NatsBus
from ringfence.core.errors import ConfigError
from tests.bus.private_nats import PrivateNats


class _Recovering:
    """A JetStream context whose stream is 'not found' for the first ``misses`` looks while its
    subjects are taken (what a server recovering from disk answers)."""

    def __init__(self, misses: int) -> None:
        self.misses = misses
        self.looks = 0
        self.creates = 0

    async def stream_info(self, name: str) -> Any:
        self.looks += 1
        if self.looks <= self.misses:
            raise NotFoundError(code=404, err_code=10059, description="stream not found")
        return "info"

    async def add_stream(self, config: Any) -> None:
        self.creates += 1
        raise APIError(
            code=400, err_code=10065, description="subjects overlap with an existing stream"
        )


async def test_a_stream_still_recovering_is_looked_at_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(busnats, "_RECOVERY_PAUSE", 0.01)
    bus = NatsBus("nats://127.0.0.1:1", stream="S14", subject_prefix="s14")
    js = _Recovering(misses=3)
    checked: list[Any] = []

    async def check(info: Any) -> None:
        checked.append(info)

    bus._js = js  # type: ignore[assignment]
    monkeypatch.setattr(bus, "_check_stream", check)
    await bus.ensure_stream()
    assert checked == ["info"] and js.creates == 3


async def test_a_real_overlap_with_another_stream_is_still_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(busnats, "_RECOVERY_PAUSE", 0.01)
    server = PrivateNats(tmp_path / "js")
    server.start()
    prefix = "s14" + secrets.token_hex(3)
    first = NatsBus(server.url, stream="FIRST", subject_prefix=prefix)
    other = NatsBus(server.url, stream="OTHER", subject_prefix=prefix)
    try:
        await first.connect()
        with pytest.raises(ConfigError) as info:
            await asyncio.wait_for(other.connect(), 20)
        assert "subjects overlap" in str(info.value)
    finally:
        await first.close()
        await other.close()
        server.kill()
