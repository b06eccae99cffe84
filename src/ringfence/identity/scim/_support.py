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
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, TypeAdapter
from pydantic import ValidationError as PydanticValidationError
from scim2_models import (
    Context,
    Error,
    InvalidValueException,
    PatchOp,
    PreconditionFailedException,
    SCIMException,
)
from scim2_models.path import AttrPath, Comparison, LogicalExpr, Not, ValuePath
from scim2_models.path.expressions import CompareOperator, LogicalOperator
from scim2_models.path.resolution import _resolve_comparison_path

from ringfence.identity.models import ScimGroup, ScimUser
from ringfence.identity.scim._discovery import POLICY
from ringfence.inventory.schema import Email
from ringfence.store.models import Person

_EMAIL_RULE: TypeAdapter[str] = TypeAdapter(Email)  # the estate file's rule


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
    """The first error as a SCIM error: the field and pydantic's one-line message only —
    never the raw text (nested validation reports, "For further information visit
    https://errors.pydantic.dev/...", the input echoed back)."""
    error = Error.from_validation_errors(exc)[0]
    details = exc.errors()
    loc = details[0]["loc"] if details else ()
    field = ".".join(str(part) for part in loc if not isinstance(part, int))
    message = str(details[0]["msg"] if details else "invalid value").split("\n", 1)[0]
    message = message.split(" For further information", 1)[0].rstrip(" .:[")
    if message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    if " validation error" in message:  # a nested report flattened into one line
        message = "invalid value"
    error.detail = f"{field}: {message}" if field else message
    return SCIMException.from_error(error)


def plain_detail(detail: str) -> str:
    """An error detail as ``field: message``: scim2-models passes pydantic's full report
    through some errors (PATCH values) — "1 validation error for User[EnterpriseUser]",
    the field, the message with its [type=...], "For further information visit
    https://errors.pydantic.dev/..." — which is noise to an IdP's operator."""
    if "validation error" not in detail and "errors.pydantic.dev" not in detail:
        return detail
    lines = [line.strip() for line in detail.splitlines() if line.strip()]
    if len(lines) >= 3 and "validation error" in lines[0]:
        message = lines[2].split(" [type=", 1)[0].removeprefix("Value error, ")
        return f"{lines[1]}: {message}"
    return lines[0].split(" For further information", 1)[0] if lines else "invalid value"


def _is_email(value: str) -> bool:
    try:
        _EMAIL_RULE.validate_python(value)
    except PydanticValidationError:
        return False
    return True


def check_user_name(user_name: Any) -> None:
    """userName is required and unique: blank, control characters or more than 320
    characters are refused (invalidValue) — it is the uniqueness key and, when it is an
    email, the person's email."""
    name = user_name if isinstance(user_name, str) else ""
    if not name.strip():
        raise InvalidValueException(detail="userName must not be empty or blank")
    if len(name) > 320 or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise InvalidValueException(
            detail="userName must have at most 320 characters and no control characters"
        )


def check_display_name(display_name: Any) -> None:
    """A Group's displayName is required and unique (its key column holds 320 characters):
    blank, control characters or more than 320 characters are refused (invalidValue) — on
    every engine alike, not a database error on PostgreSQL and a silent store on SQLite."""
    name = display_name if isinstance(display_name, str) else ""
    if not name.strip():
        raise InvalidValueException(detail="displayName must not be empty or blank")
    if len(name) > 320 or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise InvalidValueException(
            detail="displayName must have at most 320 characters and no control characters"
        )


def check_external_id(external_id: Any) -> None:
    """externalId is kept in a 200-character column (people, groups)."""
    if isinstance(external_id, str) and len(external_id) > 200:
        raise InvalidValueException(detail="externalId must have at most 200 characters")


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


def _bad_filter(detail: str) -> SCIMException:
    return SCIMException.from_error(Error(status=400, scim_type="invalidFilter", detail=detail))


def _check_comparison(model: Any, path: AttrPath, value: Any) -> None:
    try:
        binding = _resolve_comparison_path(model, path, strict=False)
    except SCIMException:
        raise
    except Exception:  # the library's resolution refused it: the filter's own check reports
        return
    if binding is None:
        return
    target = binding.target_type
    name = binding.urn.rsplit(":", 1)[-1] if binding.urn else path.attr
    if not isinstance(target, type) or value is None:
        return
    if issubclass(target, BaseModel):
        raise _bad_filter(
            f"{name} is a complex attribute: compare one of its sub-attributes "
            f"(e.g. name.familyName)"
        )
    if issubclass(target, datetime):
        ok = isinstance(value, str)
        if ok:
            try:
                datetime.fromisoformat(value)
            except ValueError:
                ok = False
        if not ok:
            raise _bad_filter(f"{name} is a dateTime: compare it with an ISO 8601 string")
    elif issubclass(target, bool):
        if not isinstance(value, bool):
            raise _bad_filter(f"{name} is a boolean: compare it with true or false")
    elif issubclass(target, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad_filter(f"{name} is an integer: compare it with a number")
    elif issubclass(target, str) and not isinstance(value, str):
        raise _bad_filter(f"{name} is a string: compare it with a quoted string")


def check_filter_types(node: Any, model: Any, parent: AttrPath | None = None) -> None:
    """Refuse (invalidFilter) a comparison whose value cannot be of its attribute's type, or
    that compares a complex attribute as a whole: scim2-models lets `meta.created gt 5`
    (a number is a Unix time to pydantic) and `name eq "x"` through, and they silently
    match nothing instead of telling the client its filter is wrong."""
    if isinstance(node, Comparison):
        path = node.attr_path
        if parent is not None:
            path = AttrPath(attr=parent.attr, sub_attr=path.attr, uri=parent.uri)
        _check_comparison(model, path, node.value)
    elif isinstance(node, LogicalExpr):
        for term in node.terms:
            check_filter_types(term, model, parent)
    elif isinstance(node, Not):
        check_filter_types(node.expr, model, parent)
    elif isinstance(node, ValuePath):
        check_filter_types(node.val_filter, model, node.attr_path)


# Each PATCH operation re-validates the whole resource (~1 ms for a plain user, more with
# many multi-valued entries): 16,000 operations fit in a 1 MiB body and cost 14 s of CPU. IdPs
# send one operation per changed attribute and batch group members in an operation's value.
MAX_PATCH_OPERATIONS = 1000


def validate_patch(model: Any, payload: Any) -> Any:
    if not isinstance(payload, dict):
        raise SCIMException.from_error(
            Error(status=400, scim_type="invalidSyntax", detail="body must be a JSON object")
        )
    operations = payload.get("Operations")
    if isinstance(operations, list) and len(operations) > MAX_PATCH_OPERATIONS:
        raise InvalidValueException(
            detail=f"Operations has {len(operations)} operations; at most "
            f"{MAX_PATCH_OPERATIONS} are accepted in one request"
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
    """The person's email: the primary (else work, else first) of ``emails``, else the
    userName if it is an email. Held to the estate file's e-mail rule, so that what SCIM
    stores `ringfence export` writes and `plan` accepts: a chosen email that breaks it is
    refused (invalidValue); a userName that breaks it is simply not an email."""
    emails = [e for e in (user.emails or []) if e.value]
    if not emails:
        name = str(user.user_name).strip()
        return name.lower() if "@" in name and _is_email(name) else None
    chosen = next((e for e in emails if e.primary), None) or next(
        (e for e in emails if str(e.type or "") == "work"), emails[0]
    )
    value = str(chosen.value).strip()
    if not _is_email(value):
        raise InvalidValueException(
            detail="emails: the primary email is not an e-mail address (name@example.com, "
            "at most 320 characters, no control characters)"
        )
    return value.lower()


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
