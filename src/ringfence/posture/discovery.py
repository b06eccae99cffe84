"""Discovery: what the connectors and the gateway observed, compared with the declared estate.

Observed-but-undeclared apps, OAuth grants, integrations and data flows become *shadow IT*
items; ``adopt`` declares one into ``ringfence.yaml`` with a precise round-trip YAML edit that
keeps comments and layout, and refuses to write a file the estate loader would reject. Never
writes a secret into the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from ringfence.core.errors import NotFoundError, ValidationError
from ringfence.posture.context import PostureContext
from ringfence.posture.scopes import high_risk, is_admin_scope

# Which declared app category hosts each connector's tenant (destination of a grant).
TENANT_CATEGORY = {
    "okta": "identity_provider",
    "github": "code_hosting",
    "google_workspace": "productivity",
    "microsoft365": "productivity",
    "slack": "chat",
}
KINDS = ("app", "integration", "flow")


def normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", name.lower()).strip()


def _first_word(name: str) -> str:
    words = normalise(name).split()
    return words[0] if words else ""


def declared_match(ctx: PostureContext, name: str, client_id: str | None) -> str | None:
    """The declared integration/app a discovered thing corresponds to, or None (shadow)."""
    if client_id and client_id in ctx.declared_client_ids:
        return next(i.name for i in ctx.integrations if i.client_id == client_id)
    index = _name_index(ctx)
    norm = normalise(name)
    if norm in index:
        return index[norm]
    first = _first_word(name)
    return index.get(f"word:{first}") if len(first) >= 4 else None


def _name_index(ctx: PostureContext) -> dict[str, str]:
    cached = ctx.__dict__.get("_posture_name_index")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    index: dict[str, str] = {}
    for a in ctx.apps:
        if not a.sanctioned:
            continue  # an unsanctioned app is declared but still shadow IT when found
        index[normalise(a.name)] = a.name
        index.setdefault(f"word:{_first_word(a.name)}", a.name)
        index.setdefault(f"word:{_first_word(a.vendor)}", a.name)
    for i in ctx.integrations:
        index[normalise(i.name)] = i.name
    ctx.__dict__["_posture_name_index"] = index
    return index


@dataclass
class ShadowItem:
    """One observed-but-undeclared thing, with what adopting it would declare."""

    kind: str  # app | integration | flow
    name: str
    vendor: str
    detail: str
    scopes: list[str] = field(default_factory=list)
    risky_scopes: list[str] = field(default_factory=list)
    principals: list[str] = field(default_factory=list)
    client_id: str | None = None
    tenant_wide: bool = False
    app: str | None = None  # the discovered app behind an integration (its adopt source)

    @property
    def risk(self) -> str:
        if self.risky_scopes and (self.tenant_wide or len(self.principals) > 1):
            return "critical"
        if self.risky_scopes:
            return "high"
        return "medium" if self.kind != "app" else "low"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "vendor": self.vendor,
            "risk": self.risk,
            "detail": self.detail,
            "scopes": self.scopes,
            "risky_scopes": self.risky_scopes,
            "principals": self.principals,
            "client_id": self.client_id,
            "tenant_wide": self.tenant_wide,
            "app": self.app,
        }


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:90] or "discovered"


def find_shadow(ctx: PostureContext) -> list[ShadowItem]:
    """Undeclared SaaS apps, grants (as integrations), gateway-seen integrations and flows."""
    items: dict[tuple[str, str], ShadowItem] = {}
    if ctx.saas is not None:
        for a in ctx.saas.apps:
            if a.enabled and declared_match(ctx, a.name, a.client_id) is None:
                key = ("app", normalise(a.name))
                item = items.setdefault(
                    key,
                    ShadowItem(
                        "app", a.name, a.vendor, f"installed in {a.vendor}", client_id=a.client_id
                    ),
                )
                item.scopes = sorted(set(item.scopes) | set(a.scopes))
        for g in ctx.saas.grants:
            if g.client_id is None or declared_match(ctx, g.app_name, g.client_id) is not None:
                continue
            key = ("integration", f"{g.vendor}:{g.client_id}")
            item = items.setdefault(
                key,
                ShadowItem(
                    "integration",
                    f"{slug(g.app_name)}-{slug(g.vendor)}",
                    g.vendor,
                    f"{g.app_name} holds an OAuth grant in {g.vendor}",
                    client_id=g.client_id,
                    app=g.app_name,
                ),
            )
            item.scopes = sorted(set(item.scopes) | set(g.scopes))
            item.tenant_wide = item.tenant_wide or g.tenant_wide
            if g.principal and g.principal not in item.principals:
                item.principals.append(g.principal)
            item.detail = f"{g.app_name} holds OAuth grants in {g.vendor}"
    for key, item in items.items():
        vendor = item.vendor if key[0] == "integration" else None
        item.risky_scopes = [
            s for s in item.scopes if s in high_risk(item.scopes, vendor) or is_admin_scope(s)
        ]
    out = list(items.values())
    for name, usage in sorted((ctx.usage or {}).items()):
        if name not in ctx.integration_names:
            out.append(
                ShadowItem(
                    "integration",
                    name,
                    "gateway",
                    "seen at the gateway but not declared",
                    scopes=sorted(usage.scopes),
                )
            )
    declared = ctx.declared_flow_keys
    for f in ctx.flows:
        if f.origin == "observed" and (f.source_app_id, f.destination_app_id) not in declared:
            out.append(
                ShadowItem(
                    "flow",
                    f.name,
                    "gateway",
                    f"{ctx.app_name(f.source_app_id)} → "
                    f"{ctx.app_name(f.destination_app_id)} "
                    f"({', '.join(f.data_classes)})",
                )
            )
    order = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    return sorted(out, key=lambda i: (order[i.risk], i.kind, i.name))


# -- adopt ------------------------------------------------------------------------------------
def _yaml() -> YAML:
    y = YAML()  # round-trip: keeps comments, key order, flow style
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def _section(doc: CommentedMap, key: str) -> CommentedSeq:
    seq = doc.get(key)
    if seq is None:
        seq = CommentedSeq()
        doc[key] = seq
    if not isinstance(seq, CommentedSeq):
        raise ValidationError(f"`{key}:` in the estate file is not a list")
    return seq


def _names(seq: CommentedSeq) -> set[str]:
    return {str(e.get("name")) for e in seq if isinstance(e, dict)}


def adopt(path: Path, kind: str, name: str, items: list[ShadowItem]) -> dict[str, Any]:
    """Declare the discovered ``kind``/``name`` into the estate file at ``path``.

    Apps are declared unsanctioned with public clearance (review before trusting them);
    integrations get their observed scopes and client id. Returns what was added.
    """
    if kind not in KINDS:
        raise ValidationError(f"unknown kind {kind!r}; expected one of: {', '.join(KINDS)}")
    item = next((i for i in items if i.kind == kind and name in (i.name, slug(i.name))), None)
    if item is None:
        known = ", ".join(sorted(i.name for i in items if i.kind == kind)) or "none"
        raise NotFoundError(f"no discovered {kind} named {name!r} (discovered: {known})")
    if kind == "flow":
        raise ValidationError(
            "observed flows are adopted by declaring the integration that "
            "carries them; adopt that integration instead"
        )
    try:
        text = path.read_text(encoding="utf-8")
        doc = _yaml().load(text)
    except (OSError, YAMLError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{path}: cannot read estate file: {exc}") from None
    if not isinstance(doc, CommentedMap):
        raise ValidationError(f"{path}: the estate file is not a mapping")
    apps = _section(doc, "apps")
    added: dict[str, Any] = {}
    app_name = item.name if kind == "app" else _source_name(item)
    if app_name not in _names(apps):
        vendor = _ensure_vendor(doc, app_name)
        entry = CommentedMap()
        entry["name"] = app_name
        entry["vendor"] = vendor
        entry["category"] = "other"
        entry["sanctioned"] = False
        entry["clearance"] = "public"
        apps.append(entry)
        apps.yaml_set_comment_before_after_key(
            len(apps) - 1,
            before=f"adopted from discovery ({_one_line(item.detail)}); review before sanctioning",
            indent=2,
        )
        added["app"] = app_name
    elif kind == "app":
        raise ValidationError(f"app {app_name!r} is already declared in {path}")
    if kind == "integration":
        integrations = _section(doc, "integrations")
        if item.name in _names(integrations):
            raise ValidationError(f"integration {item.name!r} is already declared in {path}")
        destination = _tenant_app(doc, item.vendor)
        entry = CommentedMap()
        entry["name"] = item.name
        entry["source"] = app_name
        entry["destination"] = destination
        if item.client_id:
            entry["client_id"] = item.client_id
        entry["scopes"] = CommentedSeq(item.scopes)
        entry["description"] = f"Adopted from discovery: {item.detail}."
        integrations.append(entry)
        added["integration"] = item.name
    out = StringIO()
    _yaml().dump(doc, out)
    _validate(out.getvalue(), path)
    path.write_text(out.getvalue(), encoding="utf-8")
    return added


def _one_line(text: str) -> str:
    """SaaS-supplied text goes into a YAML comment: no control characters, bounded length."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", text)[:200]


def _source_name(item: ShadowItem) -> str:
    return item.app or item.name


def _ensure_vendor(doc: CommentedMap, app_name: str) -> str:
    vendors = _section(doc, "vendors")
    vendor_name = f"{app_name} (vendor)"
    if vendor_name not in _names(vendors):
        v = CommentedMap()
        v["name"] = vendor_name
        v["description"] = "Discovered vendor: fill in website, domains and a security review."
        vendors.append(v)
    return vendor_name


def _tenant_app(doc: CommentedMap, vendor: str) -> str:
    category = TENANT_CATEGORY.get(vendor)
    for a in doc.get("apps") or []:
        if isinstance(a, dict) and a.get("category") == category:
            return str(a["name"])
    raise ValidationError(
        f"no declared app of category {category!r} hosts the {vendor} tenant; declare it first"
    )


def _validate(text: str, path: Path) -> None:
    from ringfence.inventory import parse_estate

    parse_estate(text, str(path))
