"""The policy fingerprint (polled 4-5 times a second by every gateway process) changes with
every store change the snapshot depends on — on SQLite and on PostgreSQL — and only then."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from ringfence.gateway.clients import touch_api_keys
from ringfence.gateway.models import (
    GatewayApiKey,
    GatewayClient,
    GatewayRevokedToken,
    GatewayRoute,
    GatewaySigningKey,
)
from ringfence.gateway.policy import fingerprint
from ringfence.store.db import Store
from ringfence.store.models import App, Integration, IntegrationStatus, Vendor
from ringfence.store.vault import MASTER_KEY_ENV, Vault

LATER = datetime(2030, 1, 1, tzinfo=UTC)


def _seed(store: Store) -> None:
    with store.session() as s:
        vendor = Vendor(name="fp vendor")
        s.add(vendor)
        s.flush()
        app = App(name="fp app", vendor_id=vendor.id, clearance=1)
        s.add(app)
        s.flush()
        integ = Integration(name="fp integ", destination_app_id=app.id, scopes=["a.read"])
        s.add(integ)
        s.flush()
        client = GatewayClient(
            client_id="rfc_fp",
            name="fp",
            integration_id=integ.id,
            auth_method="client_secret_basic",
            scopes=["a.read"],
        )
        s.add(client)
        s.flush()
        s.add(GatewayApiKey(client_pk=client.id, prefix="fpkey", hash="0" * 64))
        s.add(GatewayRoute(name="fp-route", spec={"name": "fp-route"}))
        s.add(GatewaySigningKey(kid="k1", alg="EdDSA", public_jwk={}, private_ref="vault:fp/k1"))


def _keep_updated_at(model: type, **values: object) -> Callable[[Store], None]:
    """An UPDATE that leaves ``updated_at`` as it was (a writer that does not bump it)."""

    def change(store: Store) -> None:
        with store.session() as s:
            old = s.scalar(select(model.updated_at))  # type: ignore[attr-defined]
            s.execute(update(model).values(updated_at=old, **values))

    return change


def _add_revoked(store: Store) -> None:
    with store.session() as s:
        s.add(GatewayRevokedToken(jti="j1", client_id="rfc_fp", expires_at=LATER))


def _touch(model: type) -> Callable[[Store], None]:
    def change(store: Store) -> None:
        with store.session() as s:
            s.execute(update(model).values(updated_at=LATER + timedelta(seconds=1)))

    return change


CHANGES: dict[str, Callable[[Store], None]] = {
    "integration quarantined (updated_at untouched)": _keep_updated_at(
        Integration, status=IntegrationStatus.QUARANTINED
    ),
    "integration scopes narrowed (updated_at untouched)": _keep_updated_at(Integration, scopes=[]),
    "token revoked": _add_revoked,
    "signing key superseded (updated_at untouched)": _keep_updated_at(
        GatewaySigningKey, superseded_at=LATER
    ),
    "route changed": _touch(GatewayRoute),
    "client changed": _touch(GatewayClient),
    "api key changed": _touch(GatewayApiKey),
    "app changed": _touch(App),
    # Review G4: a revocation stamped earlier than another row's change (clock skew).
    "api key revoked (stamped in the past)": _keep_updated_at(GatewayApiKey, revoked_at=LATER),
    "client revoked (stamped in the past)": _keep_updated_at(GatewayClient, revoked_at=LATER),
    "integration renamed (updated_at untouched)": _keep_updated_at(Integration, name="fp 2"),
    # Review G3: a rotated upstream secret (respond's rotate_client_secret) must reach the
    # gateway, which injects it, without a restart.
    "vault secret replaced": lambda store: _vault(store).put("fp/upstream", "new value"),
}


def _vault(store: Store) -> Vault:
    return Vault(store, None)  # the master key from the environment (set by the test)


@pytest.mark.parametrize("change", list(CHANGES), ids=list(CHANGES))
def test_fingerprint_changes_with_what_the_snapshot_depends_on(
    store: Store, change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MASTER_KEY_ENV, base64.b64encode(b"k" * 32).decode())
    _seed(store)
    _vault(store).put("fp/upstream", "old value")
    before = fingerprint(store)
    assert fingerprint(store) == before  # stable while nothing changes
    CHANGES[change](store)
    assert fingerprint(store) != before


def test_last_used_tracking_does_not_change_the_fingerprint(store: Store) -> None:
    # Every API-key request records its last use: that must not rebuild the snapshot.
    _seed(store)
    with store.session() as s:
        key_id = s.scalars(select(GatewayApiKey.id)).one()
    before = fingerprint(store)
    touch_api_keys(store, {key_id: LATER, "no-such-key": LATER})
    assert fingerprint(store) == before
    with store.session() as s:
        key = s.get(GatewayApiKey, key_id)
        assert key is not None and key.last_used_at == LATER
