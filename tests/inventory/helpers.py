"""Shared helpers for the inventory tests: small estates and a store fingerprint."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from ringfence.inventory.estate import export_estate
from ringfence.store.db import Store
from ringfence.store.models import AuditRecord, DataFlow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "estate.yaml"

SMALL = """\
apiVersion: ringfence/v1
people:
  - email: ada@northwind.example
    name: Ada Lovelace
    department: Security
  - email: bob@northwind.example
    name: Bob
vendors:
  - name: Salesforce
    website: https://www.salesforce.com
  - name: Slack Technologies
apps:
  - name: CRM
    vendor: Salesforce
    owner: ada@northwind.example
    clearance: confidential
    data_classes: [internal, confidential]
    retention_days: {confidential: 365}
  - name: Chat
    vendor: Slack Technologies
    base_urls: ["https://slack.com/api"]
integrations:
  - name: crm-to-chat
    source: CRM
    destination: Chat
    owner: ada@northwind.example
    client_id: client-1
    scopes: ["chat:write"]
    data_classes: [internal]
credentials:
  - name: chat-bot-token
    kind: api_key
    integration: crm-to-chat
    ref: vault:slack/bot
    rotation_days: 90
flows:
  - name: deals-to-chat
    source: CRM
    destination: Chat
    integration: crm-to-chat
    data_classes: [internal]
"""


def fingerprint(store: Store) -> tuple[str, int, int]:
    """Everything an apply could change: the exported estate, audit length, observed flows."""
    with store.session() as s:
        audits = int(s.scalar(select(func.count()).select_from(AuditRecord)) or 0)
        flows = int(s.scalar(select(func.count()).select_from(DataFlow)) or 0)
    return export_estate(store), audits, flows
