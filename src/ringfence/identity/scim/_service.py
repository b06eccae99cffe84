"""SCIM resources over the store: Users are ``people`` rows plus a document, Groups are ours.

Every write runs in one transaction (validation first, then writes), so a refused request
leaves nothing half-written. Changes of ``active`` go through the identity lifecycle, which is
what reaches the integrations a person owns. Passwords sent by an IdP are dropped, never
stored. Raises scim2-models ``SCIMException``s; the router renders them as SCIM errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from scim2_models import (
    ConflictException,
    Context,
    EnterpriseUser,
    Error,
    InvalidValueException,
    MutabilityException,
    NotFoundException,
    PreconditionFailedException,
    SCIMException,
    SearchRequest,
    TooManyException,
    UniquenessException,
)
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from ringfence.core.clock import Clock
from ringfence.core.ids import new_id
from ringfence.identity import group_roles, lifecycle
from ringfence.identity.models import ScimGroup, ScimGroupMember, ScimUser
from ringfence.identity.scim._discovery import POLICY, GroupResource, UserResource
from ringfence.identity.scim._machine import ensure_machine_identity
from ringfence.identity.scim._support import (
    RESOURCE_CACHE,
    check_display_name,
    check_external_id,
    check_filter_types,
    check_if_match,
    check_user_name,
    display_name,
    etag_of,
    group_condition,
    key_of,
    narrowing,
    placeholder_email,
    primary_email,
    scim_error_of,
    user_condition,
    validate_patch,
)
from ringfence.identity.settings import IdentitySettings
from ringfence.store import audit
from ringfence.store.db import Store
from ringfence.store.models import (
    Integration,
    IntegrationStatus,
    Person,
)

_MAX_START_INDEX = 2**31 - 1
_SERVICE_ACCOUNT_TYPES = {"serviceaccount", "service_account", "service account", "service"}
# Attributes the foundation row owns, or that are computed: never kept in the document.
_USER_COMPUTED = ("id", "meta", "groups", "password", "externalId")
_GROUP_COMPUTED = ("id", "meta")


@dataclass(frozen=True)
class ListResult:
    total: int
    start_index: int
    resources: list[dict[str, Any]]


_WRITE_ATTEMPTS = 5  # a write that keeps losing to concurrent ones gives up with a 409
# Every candidate resource is matched against the whole filter: a filter of 1 MiB (a
# 20,000-term "or") times every user is minutes of CPU per request. IdPs send a handful of
# terms (userName eq "...", members[value eq "..."]); this is far beyond any of them.
MAX_FILTER = 4096
MAX_ATTRIBUTE_NAMES = 200  # attributes / excludedAttributes / sortBy


def _busy() -> ConflictException:
    return ConflictException(detail="the resource is being changed by other requests: retry")


def _check_search_sizes(params: dict[str, Any]) -> None:
    """Refuse search parameters too large to be a real query, before they are parsed."""
    flt = params.get("filter")
    if isinstance(flt, str) and len(flt) > MAX_FILTER:
        raise SCIMException.from_error(
            Error(
                status=400,
                scim_type="invalidFilter",
                detail=f"filter has {len(flt)} characters; at most {MAX_FILTER} are accepted",
            )
        )
    for name in ("attributes", "excludedAttributes", "sortBy"):
        value = params.get(name)
        count = len(value) if isinstance(value, list) else None
        if isinstance(value, str):
            count = value.count(",") + 1 if len(value) <= MAX_FILTER else MAX_ATTRIBUTE_NAMES + 1
        if count is not None and count > MAX_ATTRIBUTE_NAMES:
            raise InvalidValueException(
                detail=f"{name} names too many attributes; at most {MAX_ATTRIBUTE_NAMES}"
            )


class ScimService:
    """Create, read, replace, patch, delete and search SCIM Users and Groups."""

    # Equality on userName / externalId / id / displayName (alone or and-ed) is answered by an
    # indexed SQL lookup first; the filter is still evaluated on the candidates, so the result
    # is the same either way. IdPs look up every user this way on each sync.
    narrow_in_sql = True
    cache_resources = True

    def __init__(self, store: Store, clock: Clock, settings: IdentitySettings) -> None:
        self._store = store
        self._clock = clock
        self._settings = settings

    # -- reading ---------------------------------------------------------------------------
    def _groups_of(
        self, s: Session, member_ids: list[str] | None
    ) -> dict[str, list[tuple[str, Any]]]:
        """member id → [(group id, group document)], in one query (None: every member)."""
        query = select(ScimGroupMember.member_id, ScimGroup.id, ScimGroup.document).join(
            ScimGroup, ScimGroup.id == ScimGroupMember.group_id
        )
        if member_ids is not None:
            query = query.where(ScimGroupMember.member_id.in_(member_ids))
        out: dict[str, list[tuple[str, Any]]] = {}
        for member_id, gid, gdoc in s.execute(query.order_by(ScimGroup.id)):
            out.setdefault(member_id, []).append((gid, gdoc))
        return out

    def _user_payload(
        self,
        s: Session,
        row: ScimUser,
        person: Person,
        base: str,
        groups_by_member: dict[str, list[tuple[str, Any]]] | None = None,
    ) -> dict[str, Any]:
        doc = dict(row.document)
        doc["id"] = person.id
        # `active` removed by PATCH stays absent while the person is active; an inactive
        # person always reads active=false, whoever deactivated them.
        if "active" in doc or not person.active:
            doc["active"] = person.active
        if person.external_id:
            doc["externalId"] = person.external_id
        if groups_by_member is None:
            groups_by_member = self._groups_of(s, [person.id])
        groups = groups_by_member.get(person.id, [])
        if groups:
            doc["groups"] = [
                {
                    "value": gid,
                    "display": gdoc.get("displayName"),
                    "$ref": f"{base}/Groups/{gid}",
                    "type": "direct",
                }
                for gid, gdoc in groups
            ]
        modified = max(row.updated_at, person.updated_at or row.updated_at)
        doc["meta"] = {
            "resourceType": "User",
            "created": row.created_at.isoformat(),
            "lastModified": modified.isoformat(),
            "location": f"{base}/Users/{person.id}",
        }
        doc["meta"]["version"] = etag_of({k: v for k, v in doc.items() if k != "meta"})
        return doc

    def _group_payload(self, s: Session, row: ScimGroup, base: str) -> dict[str, Any]:
        doc = dict(row.document)
        doc["id"] = row.id
        members = doc.get("members") or []
        if members:
            user_ids = set(
                s.scalars(select(ScimUser.id).where(ScimUser.id.in_([m["value"] for m in members])))
            )
            doc["members"] = [
                {
                    **m,
                    "type": "User" if m["value"] in user_ids else "Group",
                    "$ref": f"{base}/{'Users' if m['value'] in user_ids else 'Groups'}/"
                    f"{m['value']}",
                }
                for m in members
            ]
        doc["meta"] = {
            "resourceType": "Group",
            "created": row.created_at.isoformat(),
            "lastModified": row.updated_at.isoformat(),
            "location": f"{base}/Groups/{row.id}",
        }
        doc["meta"]["version"] = etag_of({k: v for k, v in doc.items() if k != "meta"})
        return doc

    def _load_user(self, s: Session, user_id: str) -> tuple[ScimUser, Person]:
        row = s.get(ScimUser, user_id)
        person = s.get(Person, user_id) if row is not None else None
        if row is None or person is None:
            raise NotFoundException(detail=f"User {user_id} not found")
        return row, person

    def _patched(self, patch: Any, model: Any, current_payload: dict[str, Any]) -> Any:
        """``current_payload`` as ``model`` with ``patch`` applied; SCIM errors for a patch
        that does not apply or leaves too many values."""
        resource = model.model_validate(current_payload)
        try:
            patch.patch(resource, POLICY)
        except PydanticValidationError as exc:
            raise scim_error_of(exc) from None
        self._check_multi_values(resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
        return resource

    @staticmethod
    def _claim(
        s: Session, model: type[ScimUser] | type[ScimGroup], row: Any, if_match: str | None
    ) -> bool:
        """Take the row for this write if it is still the version read: a conditional update
        that locks it (the write lock on SQLite, the row lock on PostgreSQL) until the
        transaction ends. Without it two writers that both read version v — on SQLite the
        read runs outside the write transaction — both passed If-Match and the later one
        silently undid the other. Lost with an If-Match: 412; without: False (retry on the
        version now stored, so a concurrent PATCH is applied on top, not lost)."""
        version = row.version
        claimed = s.execute(
            update(model)
            .where(
                model.id == row.id,
                model.version.is_(None) if version is None else model.version == version,
            )
            .values(version=model.version)
            .execution_options(synchronize_session=False)
        )
        if int(getattr(claimed, "rowcount", 0) or 0) == 1:
            return True
        if if_match is not None:
            raise PreconditionFailedException(
                detail="the resource changed while this request was applied: read it again"
            )
        s.rollback()
        return False

    def _load_group(self, s: Session, group_id: str) -> ScimGroup:
        row = s.get(ScimGroup, group_id)
        if row is None:
            raise NotFoundException(detail=f"Group {group_id} not found")
        return row

    def get_user(self, user_id: str, base: str) -> dict[str, Any]:
        with self._store.session() as s:
            row, person = self._load_user(s, user_id)
            return self._user_payload(s, row, person, base)

    def get_group(self, group_id: str, base: str) -> dict[str, Any]:
        with self._store.session() as s:
            return self._group_payload(s, self._load_group(s, group_id), base)

    # -- searching -------------------------------------------------------------------------
    def search(
        self, kinds: tuple[str, ...], params: dict[str, Any], base: str
    ) -> tuple[ListResult, Any]:
        """Filter, sort and page; ``kinds`` is ("User",), ("Group",) or both (root search)."""
        models = [UserResource if k == "User" else GroupResource for k in kinds]
        model: Any = models[0] if len(models) == 1 else models[0] | models[1]
        _check_search_sizes(params)
        try:
            request = SearchRequest[model].model_validate(params)
        except PydanticValidationError as exc:
            raise scim_error_of(exc) from None
        if request.filter is not None:
            errors: list[SCIMException] = []
            for kind in kinds:
                try:
                    check_filter_types(
                        request.filter.ast, UserResource if kind == "User" else GroupResource
                    )
                except SCIMException as exc:
                    errors.append(exc)
            if len(errors) == len(kinds):  # wrong for every resource type searched
                raise errors[0]
        if (request.start_index or 0) > _MAX_START_INDEX:
            # Echoed back as startIndex: past 64 bits the JSON encoder fails (a 500).
            raise InvalidValueException(detail=f"startIndex must be at most {_MAX_START_INDEX}")
        if request.filter is None and request.sort_by is None and len(kinds) == 1:
            # An IdP's full import (GET /Users?startIndex=…&count=…): paged in SQL, so it
            # works whatever the number of users (filters stay bounded by scim_max_results).
            return self._page(kinds[0], request, base), request
        resources: list[Any] = []
        narrow = None
        if request.filter is not None and len(kinds) == 1 and self.narrow_in_sql:
            narrow = narrowing(request.filter.ast, kinds[0])
        with self._store.session() as s:
            if "User" in kinds:
                query = select(ScimUser, Person).join(Person, Person.id == ScimUser.id)
                if narrow is not None:
                    query = query.where(user_condition(*narrow))
                rows = s.execute(query).all()
                groups = self._groups_of(s, [r.id for r, _ in rows] if narrow else None)
                resources += [
                    RESOURCE_CACHE.get(
                        UserResource,
                        self._user_payload(s, r, p, base, groups),
                        self.cache_resources,
                    )
                    for r, p in rows
                ]
            if "Group" in kinds:
                gquery = select(ScimGroup)
                if narrow is not None:
                    gquery = gquery.where(group_condition(*narrow))
                resources += [
                    RESOURCE_CACHE.get(
                        GroupResource, self._group_payload(s, g, base), self.cache_resources
                    )
                    for g in s.scalars(gquery)
                ]
        if request.filter is not None:
            resources = [r for r in resources if request.filter.match(r)]
        if len(resources) > self._settings.scim_max_results:
            raise TooManyException(
                detail=f"the filter matches {len(resources)} resources; the most this server "
                f"returns is {self._settings.scim_max_results}: narrow the filter"
            )
        resources = request.sort(resources)
        start = request.start_index_0 or 0
        count = request.count if request.count is not None else self._settings.scim_page_size
        count = min(count, self._settings.scim_page_size)
        page = resources[start : start + count]
        dumped = [
            r.model_dump(scim_ctx=Context.SEARCH_RESPONSE, response_parameters=request)
            for r in page
        ]
        return ListResult(len(resources), start + 1, dumped), request

    def _page(self, kind: str, request: Any, base: str) -> ListResult:
        """One page of every User (or Group), in id order (ids are time-ordered)."""
        start = request.start_index_0 or 0
        count = request.count if request.count is not None else self._settings.scim_page_size
        count = max(0, min(count, self._settings.scim_page_size))
        with self._store.session() as s:
            if kind == "User":
                joined = select(ScimUser, Person).join(Person, Person.id == ScimUser.id)
                total = s.scalar(select(func.count()).select_from(joined.subquery())) or 0
                rows = (
                    s.execute(joined.order_by(ScimUser.id).offset(start).limit(count)).all()
                    if count
                    else []
                )
                groups = self._groups_of(s, [r.id for r, _ in rows])
                page = [
                    RESOURCE_CACHE.get(
                        UserResource,
                        self._user_payload(s, r, p, base, groups),
                        self.cache_resources,
                    )
                    for r, p in rows
                ]
            else:
                total = s.scalar(select(func.count()).select_from(ScimGroup)) or 0
                found: list[ScimGroup] = (
                    list(
                        s.scalars(
                            select(ScimGroup).order_by(ScimGroup.id).offset(start).limit(count)
                        )
                    )
                    if count
                    else []
                )
                page = [
                    RESOURCE_CACHE.get(
                        GroupResource, self._group_payload(s, g, base), self.cache_resources
                    )
                    for g in found
                ]
        dumped = [
            r.model_dump(scim_ctx=Context.SEARCH_RESPONSE, response_parameters=request)
            for r in page
        ]
        return ListResult(total, start + 1, dumped)

    # -- users -----------------------------------------------------------------------------
    def _check_multi_values(self, payload: dict[str, Any]) -> None:
        limit = self._settings.scim_max_multi_values
        for name, value in payload.items():
            if isinstance(value, list) and len(value) > limit:
                raise InvalidValueException(
                    detail=f"{name} has {len(value)} values; at most {limit} are accepted"
                )

    def _validate_user(self, payload: Any, ctx: Context) -> Any:
        if not isinstance(payload, dict):
            raise SCIMException.from_error(
                Error(status=400, scim_type="invalidSyntax", detail="body must be a JSON object")
            )
        self._check_multi_values(payload)
        try:
            return UserResource.model_validate(payload, scim_ctx=ctx, scim_policy=POLICY)
        except PydanticValidationError as exc:
            raise scim_error_of(exc) from None

    def create_user(self, payload: Any, base: str, actor: str) -> dict[str, Any]:
        user = self._validate_user(payload, Context.RESOURCE_CREATION_REQUEST)
        try:
            with self._store.session() as s:
                person, row = self._adopt_or_create_person(s, user)
                self._write_user(s, row, person, user, actor, created=True)
                s.flush()
                return self._user_payload(s, row, person, base)
        except SAIntegrityError:
            raise UniquenessException(
                detail="userName, externalId or email already belongs to another user"
            ) from None

    def _adopt_or_create_person(self, s: Session, user: Any) -> tuple[Person, ScimUser]:
        check_user_name(user.user_name)
        check_external_id(user.external_id)
        key = key_of(user.user_name)
        if s.scalar(select(ScimUser.id).where(ScimUser.user_name_key == key)) is not None:
            raise UniquenessException(detail=f"userName {user.user_name!r} is already in use")
        person: Person | None = None
        if user.external_id:
            person = s.scalar(select(Person).where(Person.external_id == user.external_id))
        email = primary_email(user)
        if person is None and email:
            person = s.scalar(select(Person).where(Person.email == email))
        if person is not None and s.get(ScimUser, person.id) is not None:
            raise UniquenessException(
                detail="externalId or email already belongs to another provisioned user"
            )
        now = self._clock.now()
        if person is None:
            person = Person(id=new_id(), email=email or placeholder_email(), created_at=now)
            s.add(person)
            s.flush()
        row = ScimUser(id=person.id, user_name_key=key, created_at=now, updated_at=now)
        s.add(row)
        return person, row

    def _write_user(
        self, s: Session, row: ScimUser, person: Person, user: Any, actor: str, created: bool
    ) -> None:
        now = self._clock.now()
        check_user_name(user.user_name)
        check_external_id(user.external_id)
        key = key_of(user.user_name)
        clash = s.scalar(
            select(ScimUser.id).where(ScimUser.user_name_key == key, ScimUser.id != row.id)
        )
        if clash is not None:
            raise UniquenessException(detail=f"userName {user.user_name!r} is already in use")
        email = primary_email(user)
        if email and email != person.email:
            owner = s.scalar(select(Person.id).where(Person.email == email, Person.id != person.id))
            if owner is not None:
                raise UniquenessException(detail=f"email {email!r} belongs to another person")
            person.email = email
        if user.external_id and user.external_id != person.external_id:
            other = s.scalar(
                select(Person.id).where(
                    Person.external_id == user.external_id, Person.id != person.id
                )
            )
            if other is not None:
                raise UniquenessException(detail="externalId already belongs to another user")
        person.external_id = user.external_id
        person.name = display_name(user)[:200]
        enterprise = user[EnterpriseUser]
        if enterprise is not None and enterprise.department:
            person.department = enterprise.department[:120]
        person.updated_at = now
        doc = user.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
        for attr in _USER_COMPUTED:
            doc.pop(attr, None)
        if "active" in doc:
            doc["active"] = bool(doc["active"])
        row.user_name_key = key
        row.document = doc
        row.version = (row.version or 0) + 1
        row.updated_at = now
        # Once an account has a machine identity, its status follows the account whatever
        # later writes say about userType (a PUT that leaves userType out must not leave the
        # machine identity active after a deactivation); only DELETE revokes it.
        row.service_account = (
            row.integration_id is not None
            or (user.user_type or "").strip().lower() in _SERVICE_ACCOUNT_TYPES
        )
        s.flush()
        # Console users created before the person (or declared with its new email) are
        # linked now, so that deprovisioning this person reaches them.
        lifecycle.link_console_users(s, person, actor=actor, clock=self._clock)
        # A security product must not reactivate a leaver because an attribute was left out:
        # on a write to an existing user, a missing `active` (a PUT without it, PATCH remove)
        # changes nothing; only an explicit true reactivates. RFC 7644 PUT would replace it
        # with the default (active) — deliberately not followed here (docs/identity.md).
        active = person.active if user.active is None and not created else user.active is not False
        # A local emergency deactivation holds (lifecycle.place_hold): the IdP's true is
        # refused (audited by reactivate_person) and the answer shows active=false.
        if active and not person.active and lifecycle.hold_of(s, person.id) is not None:
            lifecycle.reactivate_person(s, person, actor=actor, clock=self._clock)
            active = False
        audit.append(
            s,
            actor=actor,
            action="scim.user.create" if created else "scim.user.update",
            entity_type="person",
            entity_id=person.id,
            after={"userName": user.user_name, "active": active, "email": person.email},
            clock=self._clock,
        )
        if row.service_account:
            ensure_machine_identity(
                s, row, user, active, actor=actor, clock=self._clock, settings=self._settings
            )
        # An explicit active=false always runs the leaver steps (idempotent): the person may
        # have been deactivated by someone who could not reach everything (an analyst cannot
        # disable an administrator's console user; the IdP can).
        if not active and (person.active or created or user.active is False):
            lifecycle.deactivate_person(
                s,
                person,
                actor=actor,
                clock=self._clock,
                quarantine=self._settings.quarantine_on_deprovision,
            )
        elif active and not person.active:
            lifecycle.reactivate_person(s, person, actor=actor, clock=self._clock)
        elif created:
            person.active = True

    def replace_user(
        self, user_id: str, payload: Any, base: str, actor: str, if_match: str | None
    ) -> dict[str, Any]:
        new = self._validate_user(payload, Context.RESOURCE_REPLACEMENT_REQUEST)
        for _ in range(_WRITE_ATTEMPTS):
            with self._store.session() as s:
                row, person = self._load_user(s, user_id)
                current_payload = self._user_payload(s, row, person, base)
                check_if_match(current_payload, if_match)
                current = UserResource.model_validate(current_payload)
                replacement = new.model_copy(deep=True)
                replacement.replace(current)
                replacement.id = person.id
                if self._claim(s, ScimUser, row, if_match):
                    return self._save_existing(s, row, person, replacement, base, actor)
        raise _busy()

    def patch_user(
        self, user_id: str, payload: Any, base: str, actor: str, if_match: str | None
    ) -> dict[str, Any]:
        patch = validate_patch(UserResource, payload)
        for _ in range(_WRITE_ATTEMPTS):
            with self._store.session() as s:
                row, person = self._load_user(s, user_id)
                current_payload = self._user_payload(s, row, person, base)
                check_if_match(current_payload, if_match)
                resource = self._patched(patch, UserResource, current_payload)
                if self._claim(s, ScimUser, row, if_match):
                    return self._save_existing(s, row, person, resource, base, actor)
        raise _busy()

    def _save_existing(
        self, s: Session, row: ScimUser, person: Person, user: Any, base: str, actor: str
    ) -> dict[str, Any]:
        try:
            self._write_user(s, row, person, user, actor, created=False)
            s.flush()
        except SAIntegrityError:
            raise UniquenessException(detail="a unique attribute is already in use") from None
        return self._user_payload(s, row, person, base)

    def delete_user(self, user_id: str, actor: str, if_match: str | None, base: str) -> None:
        with self._store.session() as s:
            row, person = self._load_user(s, user_id)
            check_if_match(self._user_payload(s, row, person, base), if_match)
            if if_match is not None:
                self._claim(s, ScimUser, row, if_match)  # lost to another writer: 412
            lifecycle.deactivate_person(
                s,
                person,
                actor=actor,
                clock=self._clock,
                quarantine=self._settings.quarantine_on_deprovision,
                reason="deleted",
            )
            if row.integration_id:
                integ = s.get(Integration, row.integration_id)
                if integ is not None and integ.status != IntegrationStatus.REVOKED:
                    integ.status = IntegrationStatus.REVOKED
                    integ.updated_at = self._clock.now()
                    audit.append(
                        s,
                        actor=actor,
                        action="integration.revoke",
                        entity_type="integration",
                        entity_id=integ.id,
                        after={"status": "revoked", "reason": "service account deleted"},
                        clock=self._clock,
                    )
            self._drop_member(s, person.id)
            s.delete(row)
            audit.append(
                s,
                actor=actor,
                action="scim.user.delete",
                entity_type="person",
                entity_id=person.id,
                clock=self._clock,
            )

    def _drop_member(self, s: Session, member_id: str) -> None:
        """Remove a deleted user or group from every group that lists it."""
        parents = s.scalars(
            select(ScimGroup)
            .join(ScimGroupMember, ScimGroupMember.group_id == ScimGroup.id)
            .where(ScimGroupMember.member_id == member_id)
        ).all()
        for group in parents:
            doc = {k: v for k, v in group.document.items() if k != "members"}
            kept = [m for m in group.document.get("members") or [] if m.get("value") != member_id]
            if kept:
                doc["members"] = kept
            group.document = doc
            group.version += 1
            group.updated_at = self._clock.now()
        s.execute(delete(ScimGroupMember).where(ScimGroupMember.member_id == member_id))

    # -- groups ----------------------------------------------------------------------------
    def _validate_group(self, payload: Any, ctx: Context) -> Any:
        if not isinstance(payload, dict):
            raise SCIMException.from_error(
                Error(status=400, scim_type="invalidSyntax", detail="body must be a JSON object")
            )
        self._check_multi_values(payload)
        try:
            return GroupResource.model_validate(payload, scim_ctx=ctx, scim_policy=POLICY)
        except PydanticValidationError as exc:
            raise scim_error_of(exc) from None

    def _write_group(
        self, s: Session, row: ScimGroup, group: Any, actor: str, created: bool
    ) -> None:
        check_display_name(group.display_name)
        check_external_id(group.external_id)
        key = key_of(group.display_name)
        clash = s.scalar(
            select(ScimGroup.id).where(ScimGroup.display_name_key == key, ScimGroup.id != row.id)
        )
        if clash is not None:
            raise UniquenessException(detail=f"group {group.display_name!r} already exists")
        members = []
        for member in group.members or []:
            value = member.value
            if not value:
                raise InvalidValueException(detail="every member needs a value (the member id)")
            if s.get(ScimUser, value) is None and s.get(ScimGroup, value) is None:
                raise InvalidValueException(detail=f"member {value} is not a known User or Group")
            if value == row.id:
                raise InvalidValueException(detail="a group cannot be a member of itself")
            entry = {"value": value}
            if member.display:
                entry["display"] = member.display
            members.append(entry)
        doc = group.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
        for attr in _GROUP_COMPUTED:
            doc.pop(attr, None)
        unique = {m["value"]: m for m in members}
        doc["members"] = list(unique.values())
        if not doc["members"]:
            doc.pop("members")
        now = self._clock.now()
        # Who was in it and what it granted before this write: roles it no longer gives a
        # former member (removed, or the group renamed) are taken away now, not at sign-in.
        granted_before = set() if created else group_roles.granted_by(s, self._settings, row)
        members_before = group_roles.user_members(s, row.id) if granted_before else set()
        row.display_name_key = key
        row.external_id = group.external_id
        row.document = doc
        row.version = (row.version or 0) + 1
        row.updated_at = now
        s.flush()
        s.execute(delete(ScimGroupMember).where(ScimGroupMember.group_id == row.id))
        for value in unique:
            s.add(ScimGroupMember(group_id=row.id, member_id=value))
        s.flush()
        audit.append(
            s,
            actor=actor,
            action="scim.group.create" if created else "scim.group.update",
            entity_type="scim_group",
            entity_id=row.id,
            after={"displayName": group.display_name, "members": len(unique)},
            clock=self._clock,
        )
        group_roles.take_away(
            s,
            self._settings,
            person_ids=members_before,
            roles=granted_before,
            group_name=group.display_name,
            actor=actor,
            clock=self._clock,
        )

    def create_group(self, payload: Any, base: str, actor: str) -> dict[str, Any]:
        group = self._validate_group(payload, Context.RESOURCE_CREATION_REQUEST)
        now = self._clock.now()
        try:
            with self._store.session() as s:
                row = ScimGroup(
                    id=new_id(), display_name_key="", document={}, created_at=now, version=0
                )
                s.add(row)
                self._write_group(s, row, group, actor, created=True)
                return self._group_payload(s, row, base)
        except SAIntegrityError:
            raise UniquenessException(detail="displayName already in use") from None

    def replace_group(
        self, group_id: str, payload: Any, base: str, actor: str, if_match: str | None
    ) -> dict[str, Any]:
        new = self._validate_group(payload, Context.RESOURCE_REPLACEMENT_REQUEST)
        for _ in range(_WRITE_ATTEMPTS):
            with self._store.session() as s:
                row = self._load_group(s, group_id)
                current_payload = self._group_payload(s, row, base)
                check_if_match(current_payload, if_match)
                replacement = new.model_copy(deep=True)
                replacement.replace(GroupResource.model_validate(current_payload))
                if self._claim(s, ScimGroup, row, if_match):
                    self._write_group(s, row, replacement, actor, created=False)
                    return self._group_payload(s, row, base)
        raise _busy()

    def patch_group(
        self, group_id: str, payload: Any, base: str, actor: str, if_match: str | None
    ) -> dict[str, Any]:
        patch = validate_patch(GroupResource, payload)
        for _ in range(_WRITE_ATTEMPTS):
            with self._store.session() as s:
                row = self._load_group(s, group_id)
                current_payload = self._group_payload(s, row, base)
                check_if_match(current_payload, if_match)
                resource = self._patched(patch, GroupResource, current_payload)
                if self._claim(s, ScimGroup, row, if_match):
                    self._write_group(s, row, resource, actor, created=False)
                    return self._group_payload(s, row, base)
        raise _busy()

    def delete_group(self, group_id: str, actor: str, if_match: str | None, base: str) -> None:
        with self._store.session() as s:
            row = self._load_group(s, group_id)
            check_if_match(self._group_payload(s, row, base), if_match)
            if if_match is not None:
                self._claim(s, ScimGroup, row, if_match)  # lost to another writer: 412
            granted_before = group_roles.granted_by(s, self._settings, row)
            members_before = group_roles.user_members(s, row.id) if granted_before else set()
            name = str(row.document.get("displayName") or row.id)
            self._drop_member(s, row.id)
            s.delete(row)
            group_roles.take_away(
                s,
                self._settings,
                person_ids=members_before,
                roles=granted_before,
                group_name=name,
                actor=actor,
                clock=self._clock,
            )
            audit.append(
                s,
                actor=actor,
                action="scim.group.delete",
                entity_type="scim_group",
                entity_id=group_id,
                clock=self._clock,
            )

    def group_names_of(self, person_id: str) -> list[str]:
        with self._store.session() as s:
            docs = s.scalars(
                select(ScimGroup.document)
                .join(ScimGroupMember, ScimGroupMember.group_id == ScimGroup.id)
                .where(ScimGroupMember.member_id == person_id)
            )
            return sorted(str(d.get("displayName")) for d in docs)


__all__ = ["ListResult", "MutabilityException", "ScimService"]
