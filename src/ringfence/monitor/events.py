"""The normalised event model: one OCSF 1.x object plus the vendor's raw record beside it.

Every parser produces ``Event`` values; storage, the bus, Sigma rules and UEBA consume them.
An ``Event`` id is derived deterministically from the source and the vendor's own record id
(or a hash of the record), so the same record ingested twice is the same event — storage and
the bus rely on this for exactly-once results. This module must never drop the raw record.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

import orjson

OCSF_VERSION = "1.3.0"
_ID_NAMESPACE = uuid.UUID("6f1c1d8e-3b7a-4f4e-9a51-0c2f6a9d7b10")


class OcsfClass(IntEnum):
    """The OCSF event classes Ringfence emits."""

    ACCOUNT_CHANGE = 3001
    AUTHENTICATION = 3002
    USER_ACCESS = 3005
    GROUP_MANAGEMENT = 3006
    HTTP_ACTIVITY = 4002
    WEB_RESOURCES = 6001
    API_ACTIVITY = 6003
    FILE_HOSTING = 6006
    DETECTION_FINDING = 2004

    @property
    def label(self) -> str:
        return _CLASS_NAMES[self]


_CLASS_NAMES = {
    OcsfClass.ACCOUNT_CHANGE: "Account Change",
    OcsfClass.AUTHENTICATION: "Authentication",
    OcsfClass.USER_ACCESS: "User Access Management",
    OcsfClass.GROUP_MANAGEMENT: "Group Management",
    OcsfClass.HTTP_ACTIVITY: "HTTP Activity",
    OcsfClass.WEB_RESOURCES: "Web Resources Activity",
    OcsfClass.API_ACTIVITY: "API Activity",
    OcsfClass.FILE_HOSTING: "File Hosting Activity",
    OcsfClass.DETECTION_FINDING: "Detection Finding",
}

# Sigma log source (product, service) per Ringfence source name.
LOGSOURCES: dict[str, tuple[str, str]] = {
    "okta": ("okta", "okta"),
    "github": ("github", "audit"),
    "google_workspace": ("gcp", "google_workspace"),
    "m365": ("m365", "audit"),
    "entra": ("azure", "auditlogs"),
    "slack": ("slack", "audit"),
    "ringfence": ("ringfence", "gateway"),
}

STATUS_SUCCESS = 1
STATUS_FAILURE = 2
STATUS_UNKNOWN = 0


def event_id(source: str, vendor_id: str | None, record: Any) -> str:
    """Deterministic id: the vendor's id when there is one, else a hash of the record."""
    if not vendor_id:
        vendor_id = hashlib.sha256(orjson.dumps(record, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return str(uuid.uuid5(_ID_NAMESPACE, f"{source}:{vendor_id}"))


@dataclass(slots=True)
class Event:
    """One normalised event. ``ocsf`` is the OCSF object; ``raw`` the vendor record."""

    id: str
    time: datetime
    source: str
    class_uid: int
    activity_id: int
    action: str
    ocsf: dict[str, Any]
    raw: dict[str, Any]
    actor: str | None = None
    src_ip: str | None = None
    status_id: int = STATUS_UNKNOWN
    severity_id: int = 1
    product: str = ""
    service: str = ""
    entities: list[str] = field(default_factory=list)
    # ``document_body(ocsf, raw)`` made by ``from_dict`` while the decoded objects are still
    # in the CPU cache: a bus worker decodes thousands of events per batch before storing
    # them, and serialising them again then cost it ~5 µs per event in cache misses. Storage
    # writes this instead of serialising. Not an argument: ``dataclasses.replace`` and every
    # other constructor leave it None. Whoever changes ``ocsf``/``raw`` of a decoded event in
    # place must set it to None.
    body: bytes | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def type_uid(self) -> int:
        return self.class_uid * 100 + self.activity_id

    @property
    def category_uid(self) -> int:
        return self.class_uid // 1000

    def view(self) -> dict[str, Any]:
        """What rules match against: the OCSF object with ``raw`` beside it."""
        out = dict(self.ocsf)
        out["raw"] = self.raw
        return out

    def to_dict(self) -> dict[str, Any]:
        """Wire / JSON form (bus messages, ``hunt --output json``)."""
        return {
            "id": self.id,
            "time": self.time.isoformat(),
            "source": self.source,
            "class_uid": self.class_uid,
            "activity_id": self.activity_id,
            "action": self.action,
            "actor": self.actor,
            "src_ip": self.src_ip,
            "status_id": self.status_id,
            "severity_id": self.severity_id,
            "product": self.product,
            "service": self.service,
            "entities": self.entities,
            "ocsf": self.ocsf,
            "raw": self.raw,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Event:
        t = datetime.fromisoformat(d["time"])
        if t.tzinfo is None:
            t = t.replace(tzinfo=UTC)
        o, r = d["ocsf"], d["raw"]
        actor, src_ip = d.get("actor"), d.get("src_ip")
        if not (actor is None or type(actor) is str) or not (src_ip is None or type(src_ip) is str):
            raise TypeError("actor and src_ip must be strings or null")
        # positional: a bus worker builds every event through here (keywords cost ~25 % more)
        e = cls(
            str(d["id"]),
            t,
            str(d["source"]),
            int(d["class_uid"]),
            int(d["activity_id"]),
            str(d["action"]),
            # decoded JSON objects are fresh dicts already: copy only other mappings
            o if type(o) is dict else dict(o),
            r if type(r) is dict else dict(r),
            actor,
            src_ip,
            int(d.get("status_id", 0)),
            int(d.get("severity_id", 1)),
            str(d.get("product", "")),
            str(d.get("service", "")),
            list(d.get("entities", [])),
        )
        e.body = document_body(e.ocsf, e.raw)
        return e


def document_body(ocsf: dict[str, Any], raw: dict[str, Any]) -> bytes:
    """What storage keeps of an event's documents (``monitor_events.body``): the OCSF object
    and the vendor record, as JSON."""
    return orjson.dumps({"ocsf": ocsf, "raw": raw})


def build_event(
    *,
    source: str,
    vendor_id: str | None,
    raw: dict[str, Any],
    time: datetime,
    class_uid: OcsfClass,
    activity_id: int,
    activity_name: str,
    action: str,
    vendor_name: str,
    product_name: str,
    message: str | None = None,
    actor_user: dict[str, Any] | None = None,
    actor_extra: dict[str, Any] | None = None,
    src_ip: str | None = None,
    src_extra: dict[str, Any] | None = None,
    status_id: int = STATUS_UNKNOWN,
    status_detail: str | None = None,
    severity_id: int = 1,
    extra: dict[str, Any] | None = None,
    service: str | None = None,
    id_suffix: str = "",
) -> Event:
    """Assemble the OCSF object common to every class, plus class-specific ``extra``."""
    eid = event_id(
        source,
        (vendor_id + id_suffix) if vendor_id else None,
        raw if not id_suffix else {"r": raw, "i": id_suffix},
    )
    ocsf: dict[str, Any] = {
        "class_uid": int(class_uid),
        "class_name": class_uid.label,
        "category_uid": int(class_uid) // 1000,
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": int(class_uid) * 100 + activity_id,
        "time": int(time.timestamp() * 1000),
        "severity_id": severity_id,
        "status_id": status_id,
        "status": {STATUS_SUCCESS: "Success", STATUS_FAILURE: "Failure"}.get(status_id, "Unknown"),
        "metadata": {
            "version": OCSF_VERSION,
            "uid": eid,
            "original_uid": vendor_id,
            "log_name": source,
            "event_code": action,
            "product": {"vendor_name": vendor_name, "name": product_name},
        },
    }
    if status_detail:
        ocsf["status_detail"] = status_detail
    if message:
        ocsf["message"] = message
    actor: dict[str, Any] = {}
    if actor_user:
        actor["user"] = {k: v for k, v in actor_user.items() if v not in (None, "")}
    if actor_extra:
        actor.update(actor_extra)
    if actor:
        ocsf["actor"] = actor
    if src_ip or src_extra:
        endpoint: dict[str, Any] = {}
        if src_ip:
            endpoint["ip"] = src_ip
        if src_extra:
            endpoint.update(src_extra)
        ocsf["src_endpoint"] = endpoint
    if extra:
        ocsf.update(extra)
    product, default_service = LOGSOURCES.get(source, (source, source))
    user = actor_user or {}
    actor_name = user.get("email_addr") or user.get("name") or user.get("uid")
    entities = [e for e in (actor_name, src_ip) if e]
    return Event(
        id=eid,
        time=time,
        source=source,
        class_uid=int(class_uid),
        activity_id=activity_id,
        action=action,
        ocsf=ocsf,
        raw=raw,
        actor=str(actor_name) if actor_name else None,
        src_ip=src_ip,
        status_id=status_id,
        severity_id=severity_id,
        product=product,
        service=service or default_service,
        entities=[str(e) for e in entities],
    )
