"""Console roles granted by IdP groups, taken away the moment SCIM says a member left.

SSO users get their roles from the ID token's groups at sign-in (``oidc.py``,
``OIDC_GROUP_ROLES``). The same groups pushed by SCIM tell us at once when someone leaves one
(membership removed, group deleted or renamed): the roles that group granted and no SCIM group
the person is still in grants are removed from the person's SSO console users in the SCIM
write's transaction. Roles are re-read on every request, so sessions and personal tokens lose
them at once; a user left with no role has their sessions and tokens revoked (as a sign-in
with no mapped group does). This module never grants a role (only a sign-in does) and never
changes a local account's roles (an administrator sets those).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ringfence.core.clock import Clock
from ringfence.identity.accounts import revoke_user_credentials
from ringfence.identity.lifecycle import users_of_person
from ringfence.identity.models import ScimGroup, ScimGroupMember, ScimUser
from ringfence.identity.settings import IdentitySettings
from ringfence.store import audit
from ringfence.store.models import Person


def _roles_of_group(settings: IdentitySettings, group: ScimGroup) -> set[str]:
    """Roles the group maps to: by displayName (Okta sends group names in the ID token) or
    externalId / id (Entra sends group object ids)."""
    mapping = settings.oidc_group_roles
    keys = {str(group.document.get("displayName") or ""), group.external_id or "", group.id}
    roles: set[str] = set()
    for key in keys - {""}:
        roles.update(mapping.get(key, []))
    return roles


def _containing(s: Session, member_ids: Iterable[str]) -> set[str]:
    """Ids of every group that holds one of ``member_ids``, directly or through nesting."""
    found: set[str] = set()
    frontier = set(member_ids)
    while frontier:
        parents = set(
            s.scalars(
                select(ScimGroupMember.group_id).where(ScimGroupMember.member_id.in_(frontier))
            )
        )
        frontier = parents - found
        found |= parents
    return found


def granted_by(s: Session, settings: IdentitySettings, group: ScimGroup) -> set[str]:
    """Roles membership of ``group`` gives: its own and those of the groups that contain it."""
    if not settings.oidc_group_roles:
        return set()
    roles = _roles_of_group(settings, group)
    for parent_id in _containing(s, [group.id]):
        parent = s.get(ScimGroup, parent_id)
        if parent is not None:
            roles |= _roles_of_group(settings, parent)
    return roles


def user_members(s: Session, group_id: str) -> set[str]:
    """Person ids of the group's users, also through nested groups."""
    users: set[str] = set()
    seen: set[str] = set()
    frontier = {group_id}
    while frontier:
        seen |= frontier
        members = set(
            s.scalars(
                select(ScimGroupMember.member_id).where(ScimGroupMember.group_id.in_(frontier))
            )
        )
        known_users = set(s.scalars(select(ScimUser.id).where(ScimUser.id.in_(members))))
        users |= known_users
        frontier = (members - known_users) - seen
    return users


def _still_granted(s: Session, settings: IdentitySettings, person_id: str) -> set[str]:
    roles: set[str] = set()
    for group_id in _containing(s, [person_id]):
        group = s.get(ScimGroup, group_id)
        if group is not None:
            roles |= _roles_of_group(settings, group)
    return roles


def take_away(
    s: Session,
    settings: IdentitySettings,
    *,
    person_ids: Iterable[str],
    roles: set[str],
    group_name: str,
    actor: str,
    clock: Clock,
) -> int:
    """After a SCIM write (flushed): remove ``roles`` — those a group granted before it — from
    the SSO console users of ``person_ids`` unless a group they are still in grants them.
    Returns the number of console users changed."""
    if not roles:
        return 0
    s.flush()
    now = clock.now()
    changed = 0
    for person_id in sorted(set(person_ids)):
        person = s.get(Person, person_id)
        if person is None:
            continue
        lost = roles - _still_granted(s, settings, person_id)
        if not lost:
            continue
        for user in users_of_person(s, person):
            if user.sso_subject is None:
                continue  # a local account's roles are an administrator's, not the IdP's
            before = list(user.roles or [])
            after = [r for r in before if r not in lost]
            if after == before:
                continue
            user.roles = after
            user.updated_at = now
            detail: dict[str, object] = {
                "roles": after,
                "reason": f"removed from IdP group {group_name!r}",
            }
            if not after:
                tokens, sessions = revoke_user_credentials(s, user.id, now)
                detail.update(tokens_revoked=tokens, sessions_revoked=sessions)
            audit.append(
                s,
                actor=actor,
                action="user.roles",
                entity_type="console_user",
                entity_id=user.id,
                before={"roles": before},
                after=detail,
                clock=clock,
            )
            changed += 1
    return changed
