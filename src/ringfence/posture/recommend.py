"""Least-privilege recommender: the minimal scope set per integration from observed gateway
traffic, as a suggested change to ``ringfence.yaml`` (printed, or applied with a precise
round-trip edit that keeps comments). Never widens a scope set: it only removes scopes that
were not used within the policy horizon.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import StringIO
from pathlib import Path

from ruamel.yaml.comments import CommentedSeq
from ruamel.yaml.error import YAMLError

from ringfence.core.errors import ValidationError
from ringfence.posture.context import PostureContext
from ringfence.posture.discovery import _validate, _yaml


@dataclass(frozen=True)
class Recommendation:
    integration: str
    current: tuple[str, ...]
    minimal: tuple[str, ...]

    @property
    def remove(self) -> tuple[str, ...]:
        return tuple(s for s in self.current if s not in self.minimal)


def recommend(ctx: PostureContext) -> list[Recommendation]:
    """One recommendation per integration whose observed use is narrower than its grant."""
    if ctx.usage is None:
        return []
    horizon = ctx.policy.unused_scope_days
    out = []
    for i in ctx.integrations:
        u = ctx.usage.get(i.name)
        if u is None or not i.scopes:
            continue
        used = tuple(
            s
            for s in i.scopes
            if (c := u.scopes.get(s)) is not None
            and c.count > 0
            and (c.last_seen is None or (ctx.days_since(c.last_seen) or 0) <= horizon)
        )
        if len(used) < len(i.scopes):
            out.append(Recommendation(i.name, i.scopes, used))
    return out


def as_yaml_patch(recs: list[Recommendation]) -> str:
    lines = [
        "# Suggested least-privilege change (scopes unused by observed traffic removed)",
        "integrations:",
    ]
    for r in recs:
        lines.append(f"  - name: {r.integration}")
        lines.append(f"    scopes: [{', '.join(r.minimal)}]  # remove: {', '.join(r.remove)}")
    return "\n".join(lines) + "\n"


def apply_recommendations(path: Path, recs: list[Recommendation]) -> list[str]:
    """Rewrite the scopes of the recommended integrations in ``path``; returns their names."""
    try:
        doc = _yaml().load(path.read_text(encoding="utf-8"))
    except (OSError, YAMLError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{path}: cannot read estate file: {exc}") from None
    by_name = {r.integration: r for r in recs}
    changed = []
    for entry in (doc or {}).get("integrations") or []:
        rec = by_name.get(str(entry.get("name"))) if isinstance(entry, dict) else None
        if rec is None:
            continue
        old = entry.get("scopes")
        new = CommentedSeq(rec.minimal)
        if isinstance(old, CommentedSeq) and old.fa.flow_style():
            new.fa.set_flow_style()
        entry["scopes"] = new
        changed.append(rec.integration)
    out = StringIO()
    _yaml().dump(doc, out)
    _validate(out.getvalue(), path)
    path.write_text(out.getvalue(), encoding="utf-8")
    return changed
