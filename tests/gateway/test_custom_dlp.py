"""The `classify:` section of ringfence.yaml reaches the gateway's DLP stage: a custom
detector blocks, an allow-listed test value passes, a broken stored detector fails closed."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import update

from ringfence.classify.models import ClassifyEntry
from ringfence.core.errors import ConfigError
from ringfence.gateway.app import build_gateway
from ringfence.gateway.audit import MemoryAuditSink
from ringfence.gateway.config import GatewayConfig
from ringfence.inventory import apply_estate, parse_estate
from ringfence.runtime import Runtime
from tests.gateway.conftest import Template

CLASSIFY = """
apiVersion: ringfence/v1
classify:
  - name: northwind_employee_id
    class: confidential
    pattern: '\\bNW-E\\d{6}\\b'
    context: [employee, badge]
    positive: ["employee NW-E004211"]
    negative: ["NW-E42"]
  - name: qa_mailbox
    allow: ["qa.sandbox@northwind.example"]
"""


async def test_custom_detector_blocks_and_allow_list_passes(
    gw_runtime: Runtime, gw_config: GatewayConfig, template: Template
) -> None:
    apply_estate(gw_runtime.store, parse_estate(CLASSIFY), actor="t")
    config = gw_config.model_copy(update={"dlp_engine": "classify"})
    gateway = build_gateway(
        gw_runtime.store,
        gw_runtime.vault,
        config=config,
        clock=gw_runtime.clock,
        audit=MemoryAuditSink(),
    )
    await gateway.startup()
    try:
        transport = httpx.ASGITransport(app=gateway, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as http:
            a = template.a
            assert a.client_secret is not None
            tok = await http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(a.client_id, a.client_secret.get_secret_value()),
            )
            headers = {"authorization": f"Bearer {tok.json()['access_token']}"}
            blocked = await http.post(
                "/crm/contacts", json={"name": "badge NW-E004211"}, headers=headers
            )
            assert blocked.status_code == 403, blocked.text
            assert blocked.json()["data_types"] == ["northwind_employee_id"]
            assert "NW-E004211" not in blocked.text
            # Confidential e-mail to an internal-cleared app is blocked, but not the QA mailbox.
            real = await http.post(
                "/crm/contacts", json={"name": "x", "email": "ann@corp.example"}, headers=headers
            )
            assert real.status_code == 403
            qa = await http.post(
                "/crm/contacts",
                json={"name": "x", "email": "qa.sandbox@northwind.example"},
                headers=headers,
            )
            assert qa.status_code == 200, qa.text
    finally:
        await gateway.shutdown()


def test_a_stored_detector_that_no_longer_loads_stops_the_gateway(
    gw_runtime: Runtime, gw_config: GatewayConfig
) -> None:
    apply_estate(gw_runtime.store, parse_estate(CLASSIFY), actor="t")
    with gw_runtime.store.session() as s:
        s.execute(
            update(ClassifyEntry)
            .where(ClassifyEntry.name == "northwind_employee_id")
            .values(spec={"class": "confidential", "pattern": "(unclosed"})
        )
    config = gw_config.model_copy(update={"dlp_engine": "classify"})
    with pytest.raises(ConfigError, match="northwind_employee_id"):
        build_gateway(gw_runtime.store, gw_runtime.vault, config=config)
