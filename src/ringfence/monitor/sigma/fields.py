"""Field mapping per Sigma log source: the names SigmaHQ-style rules use → paths in our view.

The view a rule sees is the OCSF object with the vendor record under ``raw``. A field that is
not mapped resolves to ``raw.<field>`` first (rules written for the vendor's own format), then
to the OCSF path ``<field>`` (rules written against OCSF), so rules can match either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ringfence.monitor.sigma.paths import compile_path

Getter = Callable[[Any], list[Any]]


class View:
    """What the matching hot path hands to predicates instead of ``Event.view()``: the OCSF
    object and the vendor record side by side, without copying the OCSF dict per event.
    Getters accept either this or the equivalent plain dict (``{**ocsf, "raw": raw}``)."""

    __slots__ = ("ocsf", "raw")

    def __init__(self, ocsf: dict[str, Any], raw: dict[str, Any]) -> None:
        self.ocsf = ocsf
        self.raw = raw

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw if key == "raw" else self.ocsf.get(key, default)


def _rooted(path: str) -> Getter:
    """``path`` over a dict view or a ``View`` (same values either way)."""
    whole = compile_path(path)
    if path == "raw":
        return lambda d: [d.raw] if type(d) is View else whole(d)
    if path.startswith("raw."):
        sub = compile_path(path[4:])
        return lambda d: sub(d.raw) if type(d) is View else whole(d)
    return lambda d: whole(d.ocsf) if type(d) is View else whole(d)


# product → {sigma field: [candidate paths, first non-empty wins]}
FIELD_MAPS: dict[str, dict[str, list[str]]] = {
    "okta": {
        "eventtype": ["raw.eventType"],
        "eventType": ["raw.eventType"],
        "displaymessage": ["raw.displayMessage"],
        "legacyeventtype": ["raw.legacyEventType"],
        "actor.alternateid": ["raw.actor.alternateId"],
        "client.ipaddress": ["raw.client.ipAddress"],
        "outcome.result": ["raw.outcome.result"],
    },
    "github": {
        "actor_ip": ["raw.actor_ip"],
        "country_code": ["raw.actor_location.country_code"],
    },
    "gcp": {
        "eventService": ["unmapped.event_service"],
        "eventName": ["unmapped.event_name"],
        "methodName": ["unmapped.event_name"],
        "eventType": ["unmapped.event_type"],
        "parameters": ["unmapped.parameters"],
        "actor.email": ["raw.actor.email"],
    },
    "m365": {
        "eventSource": ["raw.Workload"],
        "eventName": ["raw.Operation"],
        "status": ["raw.ResultStatus"],
        "Status": ["raw.ResultStatus"],
    },
    "azure": {
        "ActivityDisplayName": ["raw.activityDisplayName"],
        "OperationName": ["raw.activityDisplayName"],
        "Category": ["raw.category"],
        "Result": ["raw.result"],
        "Status": ["raw.result", "raw.status.errorCode"],
        "ResultType": ["raw.status.errorCode"],
        "ResultDescription": ["raw.status.failureReason", "raw.resultReason"],
        "AppDisplayName": ["raw.appDisplayName"],
        "AppId": ["raw.appId"],
        "UserPrincipalName": ["raw.userPrincipalName"],
        "IPAddress": ["raw.ipAddress"],
        "LoggedByService": ["raw.loggedByService"],
        "properties.message": ["raw.activityDisplayName"],
        "Initiated by": ["raw.initiatedBy.user.userPrincipalName"],
        "Target": ["raw.targetResources.userPrincipalName", "raw.targetResources.displayName"],
        "TargetResources": ["raw.targetResources"],
        "RiskLevel": ["raw.riskLevelAggregated"],
        "RiskState": ["raw.riskState"],
    },
    "slack": {},
    "ringfence": {
        "path": ["raw.path", "raw.path_template"],
        "dlp_action": ["raw.dlp.action"],
        "dlp_detectors": ["unmapped.dlp_detectors"],
        "ip": ["raw.client_ip", "raw.src_ip"],
    },
}


# product → {sigma field prefix: view path prefix}
FIELD_PREFIXES: dict[str, dict[str, str]] = {
    "gcp": {"parameters.": "unmapped.parameters."},
    "azure": {
        "TargetResources.": "raw.targetResources.",
        "InitiatedBy.": "raw.initiatedBy.",
        "AdditionalDetails.": "raw.additionalDetails.",
    },
}


def candidate_paths(product: str | None, field: str) -> list[str]:
    """The view paths ``field`` resolves to for rules of ``product``, first non-empty wins."""
    mapped = FIELD_MAPS.get(product or "", {}).get(field)
    if mapped is None:
        for prefix, target in FIELD_PREFIXES.get(product or "", {}).items():
            if field.startswith(prefix):
                mapped = [target + field[len(prefix) :]]
    return mapped or ([f"raw.{field}", field] if not field.startswith("raw.") else [field])


def getter(product: str | None, field: str) -> Getter:
    """Compile the lookup of ``field`` for rules of ``product``."""
    paths = [_rooted(c) for c in candidate_paths(product, field)]
    if len(paths) == 1:
        return paths[0]

    def first(doc: Any) -> list[Any]:
        for p in paths:
            values = p(doc)
            if values:
                return values
        return []

    return first
