"""Review 10 A2: the standalone gateway publishes its audit events where monitor.yaml says.

Before, ``gateway/cli.py asgi_app`` built ``NatsBus(settings.nats_url)`` with the default
stream and subject prefix: with ``nats_stream`` / ``nats_subject_prefix`` set in monitor.yaml,
the gateway's events went to ``RINGFENCE_EVENTS`` / ``ringfence.events.*``, a stream no
``ringfence monitor worker`` of that deployment reads.
"""

from __future__ import annotations

import httpx
import pytest

from ringfence.bus.nats import NatsBus
from ringfence.runtime import Runtime
from tests.services import nats_names


async def test_the_gateway_publishes_to_the_configured_stream(
    gw_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ringfence.gateway.cli import asgi_app

    name = nats_names()
    prefix = name.lower()
    data_dir = gw_runtime.settings.data_dir
    (data_dir / "monitor.yaml").write_text(
        f"nats_stream: {name}\nnats_subject_prefix: {prefix}\nnats_max_age_days: 2\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("RINGFENCE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("RINGFENCE_MASTER_KEY_FILE", str(data_dir / "master.key"))
    monkeypatch.setenv("RINGFENCE_NATS_URL", "nats://127.0.0.1:4222")
    monkeypatch.setenv("RINGFENCE_GATEWAY_DLP_ENGINE", "builtin")
    bus = NatsBus("nats://127.0.0.1:4222", stream=name, subject_prefix=prefix)
    try:
        gw = asgi_app()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=gw), base_url="http://g"
        ) as c:
            assert (await c.get("/crm/contacts")).status_code == 401
            assert (await c.get("/crm/contacts")).status_code == 401
        await gw.shutdown()
        assert not (data_dir / "gateway-audit.spool.jsonl").exists()  # published, not spooled
        assert await bus.pending() == (2, 0)
        # ... into a stream made with monitor.yaml's retention (session 11: the gateway used
        # the defaults for anything but the stream and subject names)
        import nats

        nc = await nats.connect("nats://127.0.0.1:4222")
        try:
            info = await nc.jetstream().stream_info(name)
            assert info.config.max_age == 2 * 86400
        finally:
            await nc.close()
    finally:
        await bus.delete_stream()
        await bus.close()
