"""RF-SHD-006: App whose name imitates a declared app.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ringfence.core.lookalike import name_key
from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.context import PostureContext, saas_of


def _compact(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower())


def _imitated(declared: dict[str, str], name: str) -> str | None:
    """The declared name ``name`` imitates, if any. Short keys say little ("IO" and "10"
    share one): a whole name needs 3 letters or digits, a first word 4."""
    words = name.split()
    for part, shortest in ((name, 3), (words[0] if len(words) > 1 else "", 4)):
        key = name_key(part)
        like = declared.get(key) if len(key) >= shortest else None
        if like is not None and _compact(like) != _compact(part):
            return like
    return None


@check(
    id="RF-SHD-006",
    title="App whose name imitates a declared app",
    area="shadow_it",
    severity=Severity.HIGH,
    resource="saas_app",
    requires=("saas",),
    rationale=(
        "Consent-phishing apps borrow a trusted app's name with look-alike characters "
        "(Cyrillic U+0430 for a, I for l, 0 for O, rn for m) so that users grant them access."
    ),
    remediation=(
        "Suspend the app via the connector and revoke its grants; find who consented "
        "(`ringfence hunt`); block user consent to unverified apps."
    ),
)
def lookalike_app(ctx: PostureContext) -> Iterator[Failure]:
    """A discovered app or grant whose name — or first word, as in "0kta Verify" — has the
    UTS #39 skeleton of a declared app, vendor or integration name without being that name
    (case, spaces and punctuation aside), and whose client id is not a declared
    integration's."""
    declared: dict[str, str] = {}
    for a in ctx.apps:
        for name in (a.name, a.vendor):
            declared.setdefault(name_key(name), name)
    for i in ctx.integrations:
        declared.setdefault(name_key(i.name), i.name)
    declared.pop("", None)
    saas = saas_of(ctx)
    seen: set[tuple[str, str]] = set()
    found = [(a.vendor, a.name, a.client_id) for a in saas.apps if a.enabled]
    found += [(g.vendor, g.app_name, g.client_id) for g in saas.grants]
    for vendor, name, client_id in found:
        if (vendor, name) in seen or (client_id and client_id in ctx.declared_client_ids):
            continue
        seen.add((vendor, name))
        like = _imitated(declared, name)
        if like is not None:
            yield fail(
                "saas_app",
                f"{vendor}:{name}",
                f"{name!a} in {vendor} looks like the declared {like!r} but is another app",
                imitates=like,
                client_id=client_id,
            )
