"""Helpers of the SCIM service: keys, ETags, the validated-resource cache, SQL narrowing of
filters, PATCH parsing, If-Match checks and the person fields derived from a User.

Pure functions over scim2-models objects and SQLAlchemy expressions; no I/O of their own.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import unicodedata
from collections import OrderedDict
from typing import Any

import orjson
from pydantic import ValidationError as PydanticValidationError
from scim2_models import (
    Context,
    Error,
    PatchOp,
    PreconditionFailedException,
    SCIMException,
)
from scim2_models.path import Comparison, LogicalExpr
from scim2_models.path.expressions import CompareOperator, LogicalOperator

from ringfence.identity.models import ScimGroup, ScimUser
from ringfence.identity.scim._discovery import POLICY
from ringfence.store.models import Person


class _ResourceCache:
    """Validated resources by ETag (a hash of the content), so searches re-validate nothing.

    Validating a stored document costs ~1 ms (scim2-models checks every email address); an
    ETag changes with every change, so a hit is always current. Read-only use only: search
    results are matched, sorted and dumped, never mutated.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, model: Any, payload: dict[str, Any], enabled: bool = True) -> Any:
        if not enabled:
            return model.model_validate(payload)
        key = f"{payload['meta']['resourceType']}:{payload['id']}:{payload['meta']['version']}"
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        value = model.model_validate(payload)
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


RESOURCE_CACHE = _ResourceCache(20_000)


def key_of(value: str) -> str:
    return unicodedata.normalize("NFC", value).lower()


def scim_error_of(exc: PydanticValidationError) -> SCIMException:
    return SCIMException.from_error(Error.from_validation_errors(exc)[0])


def etag_of(payload: dict[str, Any]) -> str:
    digest = hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f'W/"{digest[:20]}"'


_USER_URN = "urn:ietf:params:scim:schemas:core:2.0:user"
_GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:group"
_NARROWABLE = {
    "User": frozenset({"username", "externalid", "id"}),
    "Group": frozenset({"displayname", "externalid", "id"}),
}


def narrowing(node: Any, kind: str) -> tuple[str, str] | None:
    """An (attribute, value) equality every match must satisfy, if the filter has one."""
    if isinstance(node, Comparison):
        path = node.attr_path
        uri = (path.uri or "").lower()
        if (
            node.op == CompareOperator.eq
            and path.sub_attr is None
            and uri in ("", _USER_URN, _GROUP_URN)
            and path.attr.lower() in _NARROWABLE[kind]
            and isinstance(node.value, str)
        ):
            return path.attr.lower(), node.value
        return None
    if isinstance(node, LogicalExpr) and node.op == LogicalOperator.and_:
        for term in node.terms:
            found = narrowing(term, kind)
            if found is not None:
                return found
    return None


def user_condition(attr: str, value: str) -> Any:
    if attr == "username":
        return ScimUser.user_name_key == key_of(value)
    if attr == "externalid":
        return Person.external_id == value
    return ScimUser.id == value


def group_condition(attr: str, value: str) -> Any:
    if attr == "displayname":
        return ScimGroup.display_name_key == key_of(value)
    if attr == "externalid":
        return ScimGroup.external_id == value
    return ScimGroup.id == value


def validate_patch(model: Any, payload: Any) -> Any:
    if not isinstance(payload, dict):
        raise SCIMException.from_error(
            Error(status=400, scim_type="invalidSyntax", detail="body must be a JSON object")
        )
    try:
        return PatchOp[model].model_validate(
            payload, scim_ctx=Context.RESOURCE_PATCH_REQUEST, scim_policy=POLICY
        )
    except PydanticValidationError as exc:
        raise scim_error_of(exc) from None


def check_if_match(current: dict[str, Any], if_match: str | None) -> None:
    if if_match is None:
        return
    wanted = {tag.strip() for tag in if_match.split(",")}
    version = current["meta"]["version"]
    if "*" in wanted or version in wanted or version.removeprefix("W/") in wanted:
        return
    raise PreconditionFailedException(
        detail=f"the resource changed: its version is {version}, not {if_match}"
    )


def primary_email(user: Any) -> str | None:
    emails = [e for e in (user.emails or []) if e.value]
    if not emails:
        name = str(user.user_name)
        return name.lower() if "@" in name and " " not in name else None
    chosen = next((e for e in emails if e.primary), None) or next(
        (e for e in emails if str(e.type or "") == "work"), emails[0]
    )
    return str(chosen.value).lower()[:320]


def placeholder_email() -> str:
    return f"scim-{secrets.token_hex(8)}@people.invalid"


def display_name(user: Any) -> str:
    if user.display_name:
        return str(user.display_name)
    if user.name is not None:
        if user.name.formatted:
            return str(user.name.formatted)
        parts = [user.name.given_name, user.name.family_name]
        joined = " ".join(str(p) for p in parts if p)
        if joined:
            return joined
    return str(user.user_name)
