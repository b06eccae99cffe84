"""No secret reference may name Ringfence's own ``RINGFENCE_*`` environment (session 12).

The API review (b7a0380) closed the REST routes; `ringfence apply` from the CLI, a route spec's
credential and rows stored before today still reached the gateway, which resolves
``${env:NAME}`` in its own process and injects the value upstream: the master key or the
store's URL with its password, sent to a host the estate's editor chose. Now the estate engine
and the route spec refuse such references, and the gateway refuses to resolve one."""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError as PydanticValidationError

from ringfence.core.secretrefs import names_own_env
from ringfence.gateway.policy import SnapshotError, resolve_credential
from ringfence.gateway.routes import CredentialSpec
from ringfence.inventory.estate import EstateInvalid, apply_estate, parse_estate
from ringfence.inventory.repository import InvalidFieldError, parse_secret_reference
from ringfence.runtime import Runtime
from tests.inventory.helpers import SMALL, fingerprint

OWN = ["${env:RINGFENCE_MASTER_KEY}", "${env:RINGFENCE_STORE_URL}", "${env:ringfence_x}"]


def test_names() -> None:
    assert names_own_env("RINGFENCE_MASTER_KEY") and names_own_env("Ringfence_Store_Url")
    assert not names_own_env("RINGFENCEX") and not names_own_env("CRM_TOKEN")


@pytest.mark.parametrize("ref", OWN)
def test_the_estate_file_cannot_reference_them(runtime: Runtime, ref: str) -> None:
    _ = apply_estate(runtime.store, parse_estate(SMALL, "estate.yaml"), clock=runtime.clock)
    before = fingerprint(runtime.store)
    text = SMALL.replace("ref: vault:slack/bot", f'ref: "{ref}"')
    assert text != SMALL
    with pytest.raises(EstateInvalid) as err:
        apply_estate(runtime.store, parse_estate(text, "estate.yaml"), clock=runtime.clock)
    assert "credentials[0] (chat-bot-token).ref" in str(err.value)
    assert "Ringfence's own configuration" in str(err.value)
    assert fingerprint(runtime.store) == before


@pytest.mark.parametrize("ref", OWN)
def test_the_repository_and_the_route_spec_refuse_them(ref: str) -> None:
    with pytest.raises(InvalidFieldError) as err:
        parse_secret_reference(ref)
    assert err.value.code == "reserved_secret"
    with pytest.raises(PydanticValidationError, match="own configuration"):
        CredentialSpec(ref=ref)
    assert parse_secret_reference("${env:CRM_TOKEN}") == ("env", "CRM_TOKEN")


def test_the_gateway_never_resolves_one_stored_before(monkeypatch: Any) -> None:
    monkeypatch.setenv("RINGFENCE_MASTER_KEY", "the-master-key-value")
    monkeypatch.setenv("CRM_TOKEN", "crm-token-value")
    stored = {"old": SimpleNamespace(ref="${env:RINGFENCE_MASTER_KEY}")}
    vault: Any = None
    with pytest.raises(SnapshotError, match="own configuration"):
        resolve_credential(CredentialSpec(credential="old"), vault, stored)  # type: ignore[arg-type]
    spec = CredentialSpec.model_construct(ref="${env:RINGFENCE_MASTER_KEY}", credential=None)
    with pytest.raises(SnapshotError, match="own configuration"):
        resolve_credential(spec, vault, {})
    ok = resolve_credential(CredentialSpec(ref="${env:CRM_TOKEN}"), vault, {})
    assert ok.secret.get_secret_value() == os.environ["CRM_TOKEN"]
