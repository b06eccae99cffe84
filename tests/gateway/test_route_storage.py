"""How routes are stored: only what differs from the defaults, so a gateway of an older
version sharing the store (a rolling upgrade of a cluster) still reads a route that does not
use a field it does not know, and refuses one that does."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ringfence.gateway.clients import save_routes
from ringfence.gateway.config import GatewayConfig
from ringfence.gateway.models import GatewayRoute
from ringfence.gateway.policy import PolicyHolder
from ringfence.gateway.routes import RouteSpec
from ringfence.runtime import Runtime
from tests.gateway.conftest import crm_routes


def _stored(rt: Runtime) -> dict[str, dict[str, Any]]:
    with rt.store.session() as s:
        return {r.name: dict(r.spec) for r in s.scalars(select(GatewayRoute))}


def test_a_route_is_stored_without_its_defaults_and_read_back_whole(gw_runtime: Runtime) -> None:
    stored = _stored(gw_runtime)
    crm, redact = stored["crm"], stored["crm-redact"]
    assert "dlp" not in crm  # every DLP setting at its default: nothing of it stored
    assert redact["dlp"] == {"action": "redact", "uninspectable": "allow"}
    assert "allow_loopback" in crm and "content_types" not in crm
    for name, data in stored.items():  # what the store holds is the route, defaults filled in
        spec = RouteSpec.model_validate(data)
        assert spec.name == name
    holder = PolicyHolder(gw_runtime.store, gw_runtime.vault, GatewayConfig())
    holder.reload()
    routes = {r.name: r for r in holder.current().routes.values()}
    assert routes["crm"].dlp_uninspectable == "block" and routes["crm"].dlp_request
    assert routes["crm-redact"].dlp_uninspectable == "allow"


def test_a_model_without_a_newer_field_still_reads_a_route_that_does_not_use_it(
    gw_runtime: Runtime,
) -> None:
    # an older gateway: the same strict models, minus the field this version added
    old_dlp = {k for k in RouteSpec.model_fields["dlp"].annotation.model_fields} - {"uninspectable"}  # type: ignore[union-attr]
    for name, data in _stored(gw_runtime).items():
        dlp = data.get("dlp", {})
        unknown = set(dlp) - old_dlp
        if name == "crm":
            assert unknown == set()  # readable by the older version
        else:
            assert unknown == {"uninspectable"}  # it sets the field: the older one refuses it


def test_saving_the_same_routes_again_changes_nothing(
    gw_runtime: Runtime, upstream_url: str
) -> None:
    changes = save_routes(gw_runtime.store, crm_routes(upstream_url))
    assert changes == {"created": [], "updated": [], "deleted": []}


# What a route that sets nothing optional means. Routes are stored without their defaults,
# so changing one of these changes every stored route that relied on it, silently, on
# upgrade — and mid-way through a rolling upgrade old and new gateways would enforce
# different values for the same route. Change one only with a migration that writes the old
# value into the stored routes that relied on it; then update this pin.
PINNED_DEFAULTS = {
    "operations": [
        {
            "method": "GET",
            "path": "/x",
            "scopes": [],
            "request_schema": None,
            "response_schema": None,
            "bind": {},
            "deprecated": False,
            "quota": None,
        }
    ],
    "rate_limit": "600/minute",
    "credential": None,
    "dlp": {
        "action": "block",
        "inspect_request": True,
        "inspect_response": True,
        "uninspectable": "block",
        "clearance": None,
    },
    "limits": {
        "max_body_bytes": 1048576,
        "max_depth": 32,
        "max_array_items": 10000,
        "max_string_length": 1048576,
        "max_response_bytes": 8388608,
        "timeout_seconds": 15.0,
    },
    "content_types": ["application/json"],
    "allow_loopback": False,
}


def test_the_route_defaults_are_pinned_because_stored_routes_rely_on_them() -> None:
    given = {
        "name": "r",
        "app": "a",
        "prefix": "/p",
        "upstream": "https://x.example",
        "integrations": ["i"],
        "operations": [{"method": "GET", "path": "/x"}],
    }
    whole = RouteSpec.model_validate(given).model_dump(mode="json")
    for key in ("name", "app", "prefix", "upstream", "integrations"):
        del whole[key]
    assert whole == PINNED_DEFAULTS, "a route default changed: see the comment on PINNED_DEFAULTS"
