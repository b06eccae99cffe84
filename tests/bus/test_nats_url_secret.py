"""Review 10 finding #6: a NATS URL's credentials never reach an error message (which the API
renders to its client and the CLI and logs print)."""

from __future__ import annotations

import pytest

from ringfence.bus import NatsBus
from ringfence.core.errors import UnavailableError
from tests.bus.conftest import gateway_events


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("nats://alice:s3cret-Pw-77@127.0.0.1:1", "s3cret-Pw-77"),
        ("nats://tok3n-9f8e7d6c5b4a@127.0.0.1:1", "tok3n-9f8e7d6c5b4a"),
        ("alice:s3cret-Pw-77@127.0.0.1:1", "s3cret-Pw-77"),
    ],
)
async def test_unreachable_nats_error_does_not_show_the_credentials(url: str, secret: str) -> None:
    bus = NatsBus(url, stream="X")
    with pytest.raises(UnavailableError) as info:
        await bus.publish(gateway_events(1))
    message = str(info.value)
    assert "NATS unreachable at nats://127.0.0.1:1" in message
    assert secret not in message and "alice" not in message
