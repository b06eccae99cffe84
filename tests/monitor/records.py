"""Realistic vendor audit records, shaped like each vendor's published examples.

Thin builders over the baselines the product ships for rule test cases
(:mod:`ringfence.monitor.samples`), so tests and ``ringfence rules test`` see the same records.
Keyword overrides replace top-level fields (shallow), as the tests expect.
"""

from __future__ import annotations

import copy
from typing import Any

from ringfence.monitor.samples import TEMPLATES


def _record(source: str, field: str, value: Any, over: dict[str, Any]) -> dict[str, Any]:
    rec: dict[str, Any] = copy.deepcopy(TEMPLATES[source])
    rec[field] = value
    rec.update(over)
    return rec


def okta(event_type: str = "user.session.start", **over: Any) -> dict[str, Any]:
    return _record("okta", "eventType", event_type, over)


def github(action: str = "org.add_member", **over: Any) -> dict[str, Any]:
    return _record("github", "action", action, over)


def google(app: str = "admin", name: str = "ASSIGN_ROLE", **params: Any) -> dict[str, Any]:
    rec: dict[str, Any] = copy.deepcopy(TEMPLATES["google_workspace"])
    rec["id"]["applicationName"] = app
    event = rec["events"][0]
    event["name"] = name
    if params:
        event["parameters"] = [{"name": k, "value": v} for k, v in params.items()]
    return rec


def m365(operation: str = "Add member to role.", **over: Any) -> dict[str, Any]:
    return _record("m365", "Operation", operation, over)


def entra_audit(activity: str = "Consent to application", **over: Any) -> dict[str, Any]:
    return _record("entra_audit", "activityDisplayName", activity, over)


def entra_signin(error_code: int = 0, **over: Any) -> dict[str, Any]:
    rec = _record("entra_signin", "status", {}, over)
    if "status" not in over:
        rec["status"] = {**TEMPLATES["entra_signin"]["status"], "errorCode": error_code}
    return rec


def slack(action: str = "app_installed", **over: Any) -> dict[str, Any]:
    return _record("slack", "action", action, over)


def gateway(status: int = 200, **over: Any) -> dict[str, Any]:
    denied = status >= 400
    base = {
        "decision": "deny" if denied else "allow",
        "reason": "scope_missing" if denied else "ok",
    }
    return _record("ringfence", "status", status, {**base, **over})


def clone(rec: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(rec)
