"""Real-shaped SaaS payloads: ids, SHAs, timestamps and versions must not raise the class."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ringfence.classify import Classifier, DataClass

GITHUB_PUSH = {
    "ref": "refs/heads/main",
    "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
    "after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
    "repository": {
        "id": 1296269,
        "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5",
        "full_name": "octocat/Hello-World",
        "created_at": "2011-01-26T19:01:12Z",
        "pushed_at": 1706201234,
    },
    "sender": {"login": "octocat", "id": 1, "node_id": "MDQ6VXNlcjE=", "gravatar_id": ""},
    "commits": [
        {
            "id": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
            "tree_id": "f9d2a07e9488b91af2641b26b9407fe22a451433",
            "message": "Fix build 4.2.1",
            "timestamp": "2024-01-25T16:47:14-08:00",
        }
    ],
}
STRIPE_EVENT = {
    "id": "evt_1NG8Du2eZvKYlo2CUI79vXWy",
    "created": 1686089970,
    "data": {
        "object": {
            "id": "pi_3NG8Dt2eZvKYlo2C0d6Tbq2N",
            "amount": 2000,
            "customer": "cus_NffrFeUfNV2Hib",
            "latest_charge": "ch_3NG8Dt2eZvKYlo2C0pJcCM0U",
            "metadata": {"order_id": "6735"},
        }
    },
    "request": {
        "id": "req_Vq8PHSnH8vM3fU",
        "idempotency_key": "8d5f2b3c-2c1a-4d55-bb45-91b6f2f4c0d1",
    },
}
SLACK_EVENT = {
    "team_id": "T123ABC456",
    "event": {
        "type": "message",
        "user": "U123ABC456",
        "text": "Deploy 2024.06.1 done, build #48213 took 12:34. See OPS-1234",
        "ts": "1355517523.000005",
    },
    "event_id": "Ev123ABC456",
    "event_time": 1355517523,
}
SALESFORCE = {
    "records": [
        {
            "attributes": {
                "type": "Account",
                "url": "/services/data/v58.0/sobjects/Account/0015g00000XyZabAAB",
            },
            "Id": "0015g00000XyZabAAB",
            "AnnualRevenue": 125000000,
            "BillingPostalCode": "94105",
            "CreatedDate": "2023-04-12T17:22:41.000+0000",
            "DunsNumber": "123456789",
        }
    ]
}
METRICS = {
    "series": [
        {"metric": "system.load.1", "points": [[1700000000, 0.7]], "tags": ["version:3.14.159"]}
    ],
    "version": "10.2.3.4",
    "build": "20240101.1234567",
}


@pytest.mark.parametrize("doc", [GITHUB_PUSH, STRIPE_EVENT, SLACK_EVENT, SALESFORCE, METRICS])
def test_operational_payloads_stay_public(classifier: Classifier, doc: dict[str, Any]) -> None:
    res = classifier.scan(orjson.dumps(doc), "application/json")
    assert res.findings == (), [(f.type_id, f.path) for f in res.findings]


def test_email_under_an_id_like_key_is_still_an_email(classifier: Classifier) -> None:
    doc = {"actor": {"id": "00u1qw1mqitPHM8AJ0g7", "alternateId": "admin@example.com"}}
    res = classifier.scan(orjson.dumps(doc), "application/json")
    assert res.types == {"email_address"}
    assert res.data_class is DataClass.CONFIDENTIAL


def test_formatted_identifier_in_an_id_field_is_still_found(classifier: Classifier) -> None:
    doc = {"nationalIds": [{"type": "USA-SSN", "id": "536-90-4399"}], "order_id": "536904399"}
    res = classifier.scan(orjson.dumps(doc), "application/json")
    assert [(f.type_id, f.path) for f in res.findings] == [
        ("us_social_security_number", "$.nationalIds[0].id")
    ]
