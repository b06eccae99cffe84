"""Which ``vault:NAME`` references of an estate file name a secret the vault does not hold.

Such a file is valid YAML and a valid estate, but what it declares does not work: the gateway
takes a route whose credential it cannot resolve out of service (503 ``route_unavailable``),
and the REST API refuses a credential naming a missing vault secret. ``plan`` reports each one
as a warning; ``apply`` refuses the ones its plan introduces (an item it creates, or a
reference it changes) unless told to allow them. Only vault names are read, never a secret
value; ``${env:NAME}`` references are resolved by the gateway's own environment and cannot be
checked here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from ringfence.store.models import Credential, VaultSecret

_VAULT = "vault:"
_CHUNK = 500  # names per IN (...) query: under every engine's parameter limit


@dataclass(frozen=True)
class SecretGap:
    """One reference to a vault secret that does not exist, located in the file."""

    path: tuple[str | int, ...]  # e.g. ("routes", 3, "credential", "ref")
    message: str
    introduced: bool  # created or changed by the plan (apply refuses it by default)


def _references(
    value: Any, path: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], str, str]]:
    """``(path, kind, value)`` for each ``ref`` / ``*_ref`` holding ``vault:NAME`` (kind
    "ref") and each ``credential: NAME`` naming an estate credential (kind "credential")."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            here = (*path, str(key))
            if isinstance(item, str):
                k = str(key).lower()
                if (k == "ref" or k.endswith("_ref")) and item.startswith(_VAULT):
                    yield here, "ref", item[len(_VAULT) :]
                elif k == "credential":
                    yield here, "credential", item
            else:
                yield from _references(item, here)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _references(item, (*path, i))


def _existing(session: Session, names: set[str]) -> set[str]:
    wanted = sorted(names)
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        found.update(session.scalars(select(VaultSecret.name).where(VaultSecret.name.in_(chunk))))
    return found


def _credential_refs(session: Session, sections: Mapping[str, list[BaseModel]]) -> dict[str, str]:
    """Credential name -> vault name, as the plan leaves them (the file's credentials section
    when it declares one, the store's otherwise)."""
    if "credentials" in sections:
        refs = {
            str(getattr(c, "name", "")): str(getattr(c, "ref", "")) for c in sections["credentials"]
        }
    else:
        refs = dict(session.execute(select(Credential.name, Credential.ref)).tuples())
    return {n: r[len(_VAULT) :] for n, r in refs.items() if r.startswith(_VAULT)}


def _hint(name: str) -> str:
    return f"put it first with `ringfence vault put {name}`"


def find_secret_gaps(
    session: Session,
    sections: Mapping[str, list[BaseModel]],
    key_fields: Mapping[str, str],
    changed: Mapping[tuple[str, str], frozenset[str] | None],
) -> list[SecretGap]:
    """Every reference in ``sections`` (the file, as validated) to a missing vault secret.

    ``changed``: (section, item name) -> the top-level fields the plan changes on that item,
    None for an item it creates."""
    found: list[tuple[tuple[str | int, ...], str, str, str, str]] = []
    for key, items in sections.items():
        for i, item in enumerate(items):
            name = str(getattr(item, key_fields.get(key, "name"), ""))
            for path, kind, value in _references(item.model_dump(mode="json"), (key, i)):
                if kind == "credential" and key == "credentials":
                    continue
                found.append((path, kind, value, key, name))
    if not found:
        return []
    credential_refs = _credential_refs(session, sections)
    wanted = {v for _, kind, v, _, _ in found if kind == "ref"}
    wanted |= {
        credential_refs[v]
        for _, kind, v, _, _ in found
        if kind == "credential" and v in credential_refs
    }
    present = _existing(session, wanted) if wanted else set()
    integrations = {
        str(getattr(c, "name", "")): getattr(c, "integration", None)
        for c in sections.get("credentials", ())
    }
    gaps: list[SecretGap] = []
    for path, kind, value, key, name in found:
        via: str | None = None
        if kind == "credential":
            via, vault_name = value, credential_refs.get(value)
            if vault_name is None:
                continue  # an env reference, or a credential the reference checks report
        else:
            vault_name = value
        if vault_name in present:
            continue
        fields = changed.get((key, name), frozenset())
        introduced = fields is None or str(path[2]) in fields
        gaps.append(SecretGap(path, _message(key, name, vault_name, via, integrations), introduced))
    return gaps


def _message(
    key: str, name: str, vault_name: str, via: str | None, integrations: Mapping[str, Any]
) -> str:
    missing = f"vault secret {vault_name!r} does not exist"
    if via is not None:
        missing = f"credential {via!r} names {missing}"
    if key == "routes":
        effect = f"the gateway answers 503 route_unavailable on route {name!r} until it is put"
    elif key == "credentials":
        integration = integrations.get(name)
        owner = f" of integration {integration!r}" if integration else ""
        effect = (
            f"credential {name!r}{owner} has no secret (routes using it answer 503 "
            "route_unavailable; the REST API refuses such a credential)"
        )
    else:
        effect = f"{key} item {name!r} cannot use it"
    return f"{missing}: {effect}; {_hint(vault_name)}"
