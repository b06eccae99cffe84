"""The ``playbooks:`` section of ``ringfence.yaml``: incident-response playbooks.

A playbook names the integration kinds it covers, an optional trigger (alert rules and a
minimum severity: a matching alert on an integration opens an incident by itself) and an
ordered list of steps. Steps marked ``approve: true`` wait for a second person. Stored in
``respond_playbooks``; an incident copies the playbook when it starts, so editing the file
never changes a run in progress.

```yaml
playbooks:
  - name: contain-leaked-token
    covers: [app_to_app, service_account]
    trigger: {rules: [rf_token_after_deprovision], min_severity: high}
    steps:
      - {action: quarantine_integration}
      - {action: revoke_gateway_access}
      - {action: collect_evidence, hours: 24}
      - {action: revoke_oauth_grants, vendor: github, approve: true}
      - {action: rotate_client_secret, vendor: okta, approve: true}
      - {action: notify, sink: secops}
      - {action: notify_vendor, sink: vendor-mail}
```
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from ringfence.inventory.sections import (
    ApplyContext,
    EstateSection,
    EstateView,
    SectionItem,
    SectionProblem,
    register_section,
)
from ringfence.respond.models import Playbook

Action = Literal[
    "quarantine_integration",
    "revoke_gateway_access",
    "revoke_oauth_grants",
    "revoke_integration",
    "rotate_client_secret",
    "collect_evidence",
    "notify",
    "notify_vendor",
]
# Steps that stop the integration: when the last of them is done, the incident is contained.
CONTAINMENT: frozenset[str] = frozenset(
    {"quarantine_integration", "revoke_gateway_access", "revoke_oauth_grants", "revoke_integration"}
)
CONNECTOR_VENDORS = ("okta", "github", "google_workspace", "microsoft365", "slack")
# Vendors whose API can mint and remove an app's client secrets.
ROTATING_VENDORS = ("okta", "microsoft365")
SEVERITIES = ("low", "medium", "high", "critical")


class StepSpec(SectionItem):
    action: Action
    approve: bool = False
    sink: str | None = Field(default=None, min_length=1, max_length=80)
    vendor: Literal["okta", "github", "google_workspace", "microsoft365", "slack"] | None = None
    hours: int | None = Field(default=None, ge=1, le=24 * 30)
    message: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _fields_fit_the_action(self) -> StepSpec:
        needs = {
            "notify": "sink",
            "notify_vendor": "sink",
            "revoke_oauth_grants": "vendor",
            "rotate_client_secret": "vendor",
        }
        wanted = needs.get(self.action)
        if wanted and getattr(self, wanted) is None:
            raise ValueError(f"a {self.action} step needs `{wanted}`")
        if self.action == "rotate_client_secret" and self.vendor not in ROTATING_VENDORS:
            raise ValueError(
                f"rotate_client_secret works with {' or '.join(ROTATING_VENDORS)} "
                f"(their APIs mint and remove app secrets), not {self.vendor}"
            )
        for name in ("sink", "vendor"):
            if getattr(self, name) is not None and needs.get(self.action) != name:
                raise ValueError(f"`{name}` does not go with a {self.action} step")
        if self.hours is not None and self.action != "collect_evidence":
            raise ValueError("`hours` goes with collect_evidence steps only")
        if self.message is not None and self.action not in ("notify", "notify_vendor"):
            raise ValueError("`message` goes with notify steps only")
        return self


class TriggerSpec(SectionItem):
    rules: list[str] = Field(min_length=1, max_length=100)
    min_severity: Literal["low", "medium", "high", "critical"] = "high"


class PlaybookSpec(SectionItem):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,99}$")
    description: str = Field(default="", max_length=1000)
    covers: list[Literal["app_to_app", "service_account"]] = Field(min_length=1, max_length=2)
    trigger: TriggerSpec | None = None
    steps: list[StepSpec] = Field(min_length=1, max_length=30)

    @model_validator(mode="after")
    def _contains_something(self) -> PlaybookSpec:
        if not any(s.action in CONTAINMENT for s in self.steps):
            raise ValueError(
                f"a playbook needs at least one containment step ({', '.join(sorted(CONTAINMENT))})"
            )
        return self


def load_playbooks(session: Session) -> dict[str, dict[str, Any]]:
    return {r.name: dict(r.spec) for r in session.scalars(select(Playbook))}


def apply_playbooks(
    session: Session,
    creates: Sequence[PlaybookSpec],
    updates: Sequence[PlaybookSpec],
    deletes: Sequence[str],
    ctx: ApplyContext,
) -> None:
    now = ctx.clock.now()
    existing = {r.name: r for r in session.scalars(select(Playbook))}
    for spec in [*creates, *updates]:
        data = spec.model_dump(mode="json", exclude_none=True)
        row = existing.get(spec.name)
        if row is None:
            session.add(Playbook(name=spec.name, spec=data, created_at=now, updated_at=now))
        else:
            row.spec, row.updated_at = data, now
    for name in deletes:
        gone = existing.get(name)
        if gone is not None:
            session.delete(gone)


def check_playbooks(items: Sequence[PlaybookSpec], estate: EstateView) -> list[SectionProblem]:
    del estate  # sinks and connectors are process configuration, not estate entries
    problems: list[SectionProblem] = []
    for i, item in enumerate(items):
        approvals = [s for s in item.steps if s.approve]
        if len(approvals) > 10:
            problems.append(SectionProblem(i, "steps", "at most 10 steps may need approval"))
    return problems


def playbook_ids(session: Session) -> Mapping[str, str]:
    return {r.name: r.id for r in session.scalars(select(Playbook))}


SECTION = register_section(
    EstateSection(
        key="playbooks",
        model=PlaybookSpec,
        load_current=load_playbooks,
        apply=apply_playbooks,
        check_references=check_playbooks,
        order=130,
        entity_type="playbook",
        ids=playbook_ids,
        description="Incident-response playbooks: coverage, alert trigger, ordered steps.",
    )
)
