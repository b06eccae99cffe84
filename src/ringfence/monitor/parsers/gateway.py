"""Ringfence gateway audit events → OCSF HTTP Activity 4002 (with the API Activity fields).

The gateway's ``AuditSink`` hands one dict per request (``ringfence.gateway.audit.AuditEvent
.to_dict()``): ``time`` (RFC 3339), ``request_id``, ``method``, ``status`` (int), ``decision``
(allow|deny|error), ``reason``, ``latency_ms``, ``client_ip``, ``user_agent``, ``integration``,
``integration_id``, ``client_id``, ``auth``, ``route``, ``path_template``, ``upstream``,
``bytes_in``, ``bytes_out``, ``dlp`` ({"request": {"types": {type: count}, "class": ...,
"above_clearance": [...], "action": ...}, "response": {...}}; the older flat form
{"request": {type: count}, "action": ...} is read too). Also accepted: ``id``/``event_id``
for the id, ``path``, ``src_ip``, ``records`` (rows read, for volume baselines). Unknown
keys are kept in ``raw``. Must never accept a record without an id, a method or a status.

It must accept every record the gateway writes: the NATS publisher has nowhere to keep one
this parser refuses. So a request whose probed path was empty (a target that was only a query
string; no route matched) has an empty ``url.path``, and a status outside 100-599 (an
upstream's odd status passed through, or none at all) is kept as ``http_response.code`` with
``status_id`` 0 (Unknown) and ``status`` "Unknown" (before review 10, A7, both were refused).
"""

from __future__ import annotations

from typing import Any

from ringfence.monitor.events import Event, OcsfClass, build_event
from ringfence.monitor.parsers._common import RecordError, obj, opt_str, parse_time, req_str, sub

_METHOD_ACTIVITY = {
    "CONNECT": 1,
    "DELETE": 2,
    "GET": 3,
    "HEAD": 4,
    "OPTIONS": 5,
    "POST": 6,
    "PUT": 7,
    "TRACE": 8,
    "PATCH": 9,
}


def _directions(dlp: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for d in (dlp.get("request"), dlp.get("response")) if isinstance(d, dict)]


def _dlp_action(dlp: dict[str, Any]) -> str | None:
    """The strongest action taken on the request or the response. The gateway writes one
    summary per direction ({"types": {...}, "class", "above_clearance", "action"}); a flat
    top-level ``action`` is accepted too."""
    # only text values: an odd value (a list) is no action, and must not fail the record
    found = [d.get("action") for d in _directions(dlp)] + [dlp.get("action")]
    actions = {a for a in found if isinstance(a, str)}
    for action in ("block", "redact", "alert"):
        if action in actions:
            return action
    return None


def _dlp_detectors(dlp: dict[str, Any]) -> list[str]:
    """The data types found: the per-direction ``types`` maps (or, in the older flat form,
    the direction maps' keys) and any ``detectors`` list."""
    found: set[str] = set()
    for d in _directions(dlp):
        types = d.get("types")
        found.update(str(k) for k in (types if isinstance(types, dict) else d))
    listed = dlp.get("detectors")
    if isinstance(listed, list):
        found.update(str(x) for x in listed)
    return sorted(found)


def parse(record: Any) -> list[Event]:
    r = obj(record)
    rid = opt_str(r, "id") or opt_str(r, "request_id") or opt_str(r, "event_id")
    if not rid:
        raise RecordError("missing request id ('id', 'request_id' or 'event_id')")
    method = req_str(r, "method").upper()
    # empty when nothing matched and the probed path was empty: still a request to record
    path = opt_str(r, "path") or opt_str(r, "path_template") or opt_str(r, "route") or ""
    status = r.get("status", r.get("status_code"))
    if not isinstance(status, int) or isinstance(status, bool):
        raise RecordError("field 'status' must be an integer HTTP status code")
    # OCSF status_id: 1 success, 2 failure, 0 unknown (a code outside HTTP's 100-599)
    status_id = (1 if status < 400 else 2) if 100 <= status <= 599 else 0
    when = parse_time(r.get("time", r.get("ts")), "time")
    integration = opt_str(r, "integration") or opt_str(r, "client_id")
    decision = opt_str(r, "decision") or ("deny" if status in (401, 403, 429) else "allow")
    dlp = sub(r, "dlp")
    upstream = opt_str(r, "upstream_host") or opt_str(r, "upstream")
    shown_path = path or "(empty path)"
    extra: dict[str, Any] = {
        "http_request": {
            "http_method": method,
            "url": {"path": path, "hostname": upstream},
            "user_agent": opt_str(r, "user_agent"),
        },
        "http_response": {"code": status, "latency": r.get("latency_ms")},
        "api": {
            "operation": f"{method} {opt_str(r, 'route') or path}",
            "service": {"name": opt_str(r, "app") or upstream},
        },
        "dst_endpoint": {"hostname": upstream} if upstream else {},
        "traffic": {"bytes_in": r.get("bytes_in"), "bytes_out": r.get("bytes_out")},
        "unmapped": {
            "decision": decision,
            "reason": r.get("reason"),
            "route": r.get("route"),
            "records": r.get("records"),
            "scopes": r.get("scopes"),
            "dlp_action": _dlp_action(dlp),
            "dlp_detectors": _dlp_detectors(dlp),
            "auth": r.get("auth"),
        },
    }
    return [
        build_event(
            source="ringfence",
            vendor_id=rid,
            raw=r,
            time=when,
            class_uid=OcsfClass.HTTP_ACTIVITY,
            activity_id=_METHOD_ACTIVITY.get(method, 99),
            activity_name=method,
            action=decision,
            vendor_name="Ringfence",
            product_name="Ringfence gateway",
            message=f"{integration or 'unknown client'} {method} {shown_path} → {status}",
            actor_user={"name": integration, "type": "integration"},
            actor_extra={"app_name": integration} if integration else None,
            src_ip=opt_str(r, "src_ip") or opt_str(r, "client_ip"),
            status_id=status_id,
            status_detail=opt_str(r, "reason"),
            severity_id=1 if status_id == 1 else 2,
            extra=extra,
        )
    ]
