"""RF-API-001: App reached over plaintext HTTP.

A pure function of the context it is given: never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from ringfence.posture.catalogue import Failure, Severity, check, fail
from ringfence.posture.checks.api._common import _plaintext
from ringfence.posture.context import PostureContext


@check(
    id="RF-API-001",
    title="App reached over plaintext HTTP",
    area="api",
    severity=Severity.HIGH,
    resource="app",
    rationale="Credentials and data sent over http:// can be read and altered in transit.",
    remediation="Use the app's https:// endpoint.",
)
def plaintext_app(ctx: PostureContext) -> Iterator[Failure]:
    for a in ctx.apps:
        bad = [u for u in a.base_urls if _plaintext(u)]
        if bad:
            yield fail("app", a.name, f"{a.name} has plaintext base URL(s) {', '.join(bad)}")
