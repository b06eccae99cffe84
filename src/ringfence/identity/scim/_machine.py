"""Machine identities for SCIM service accounts: an Integration of kind ``service_account``.

A user with ``userType`` ServiceAccount gets one Integration (with a ``client_id``) calling the
configured gateway app, owned by the account's enterprise ``manager``; ``active`` drives its
status (quarantined while inactive; the caller revokes it on DELETE). Never creates credentials:
gateway clients are registered separately and their secret is shown once there.

The Integration (and the gateway app it calls, the first time) is created through the
inventory repository, so it passes the checks ringfence.yaml and the REST API apply: unique
and not a lookalike of another name, and not another integration's id or client_id (lookups
take "id or name"; the responder maps an alert's entity by name or client_id). A refusal is
a SCIM 409 ``uniqueness`` naming both, and nothing of the user is stored.
"""

from __future__ import annotations

import secrets
from typing import Any

from scim2_models import EnterpriseUser, InvalidValueException, UniquenessException
from sqlalchemy import select
from sqlalchemy.orm import Session

from ringfence.core.clock import Clock
from ringfence.core.errors import ConflictError, RingfenceError
from ringfence.identity.models import ScimUser
from ringfence.identity.settings import IdentitySettings
from ringfence.inventory.repository import InventoryRepository
from ringfence.store import audit
from ringfence.store.models import (
    App,
    Integration,
    IntegrationKind,
    IntegrationStatus,
    Person,
    Vendor,
)


def ensure_machine_identity(
    s: Session,
    row: ScimUser,
    user: Any,
    active: bool,
    *,
    actor: str,
    clock: Clock,
    settings: IdentitySettings,
) -> None:
    """A SCIM service account gets an Integration (kind service_account) with a client id."""
    integ = s.get(Integration, row.integration_id) if row.integration_id else None
    enterprise = user[EnterpriseUser]
    manager_id = enterprise.manager.value if enterprise and enterprise.manager else None
    owner = s.get(Person, manager_id) if manager_id else None
    if integ is None:
        repo = InventoryRepository(s, actor=actor, clock=clock)
        try:
            app = _service_account_app(s, repo, settings.service_account_app)
            integ = repo.create(
                "integration",
                {
                    "name": f"scim-sa:{user.user_name}"[:200],
                    "kind": IntegrationKind.SERVICE_ACCOUNT,
                    "destination_app": app.id,
                    "client_id": f"rfsa_{secrets.token_hex(12)}",
                    "owner": owner.id if owner else None,
                    "description": f"machine identity of SCIM service account {user.user_name}",
                },
            )
        except ConflictError as exc:
            raise UniquenessException(detail=f"service account: {exc.message}") from None
        except RingfenceError as exc:
            raise InvalidValueException(detail=f"service account: {exc.message}") from None
        row.integration_id = integ.id
    elif owner is not None:
        integ.owner_id = owner.id
    wanted = IntegrationStatus.ACTIVE if active else IntegrationStatus.QUARANTINED
    if integ.status != IntegrationStatus.REVOKED and integ.status != wanted:
        before = integ.status.value
        integ.status = wanted
        integ.updated_at = clock.now()
        audit.append(
            s,
            actor=actor,
            action="integration.status",
            entity_type="integration",
            entity_id=integ.id,
            before={"status": before},
            after={"status": wanted.value, "reason": "service account active changed"},
            clock=clock,
        )


def _service_account_app(s: Session, repo: InventoryRepository, name: str) -> App:
    app = s.scalar(select(App).where(App.name == name))
    if app is not None:
        return app
    vendor = s.scalar(select(Vendor).where(Vendor.name == "Ringfence"))
    if vendor is None:
        vendor = repo.create("vendor", {"name": "Ringfence", "description": "this deployment"})
    created: App = repo.create("app", {"name": name, "vendor": vendor.id, "category": "gateway"})
    return created
