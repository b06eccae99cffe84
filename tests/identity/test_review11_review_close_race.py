"""Review 11: no decision is recorded (nor applied) after its campaign closed.

``decide`` checked the campaign's status on a read, then wrote the decision: a close that
committed in between (SQLite runs the reads outside the write transaction; PostgreSQL took no
lock on the campaign) was followed by a decision in the closed campaign — the integration's
scopes changed after the evidence was final, and the closing counts missed it."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from ringfence.core.clock import FixedClock
from ringfence.core.errors import ConflictError
from ringfence.identity.models import ReviewCampaign
from ringfence.identity.reviews import AccessReviews
from ringfence.runtime import Runtime
from ringfence.store.models import Integration


class _ClosedMidway(AccessReviews):
    """Closes the campaign from another request right after ``decide`` has looked it up."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime.store, runtime.clock)
        self._other = AccessReviews(runtime.store, runtime.clock)
        self.armed = False

    def _campaign(self, s: Session, ref: str) -> ReviewCampaign:
        campaign = super()._campaign(s, ref)
        if self.armed:
            self.armed = False
            closer = threading.Thread(target=self._other.close, args=(ref,), kwargs={"actor": "t"})
            closer.start()
            closer.join(timeout=30)
            assert not closer.is_alive()
        return campaign


def _scopes(runtime: Runtime, integration_id: str) -> list[str]:
    with runtime.store.session() as s:
        integ = s.get(Integration, integration_id)
        assert integ is not None
        return sorted(integ.scopes)


def test_a_decision_racing_a_close_is_refused_and_changes_nothing(
    runtime: Runtime, clock: FixedClock, estate: dict[str, Any]
) -> None:
    reviews = _ClosedMidway(runtime)
    campaign = reviews.create(
        "q4-crm",
        scope_kind="app",
        scope_ref="crm",
        due_at=clock.now() + timedelta(days=14),
        actor="user:analyst",
        used_scopes={"crm-to-chat": ["chat:write"]},
    )
    item = next(i for i in reviews.items(campaign.id) if i["integration"] == "crm-to-chat")
    reviews.armed = True
    with pytest.raises(ConflictError, match="closed"):
        reviews.decide(
            campaign.id,
            item["id"],
            decision="reduce",
            kept_scopes=["chat:write"],
            comment="least privilege",
            actor="user:analyst",
        )
    assert _scopes(runtime, estate["sync"]) == ["chat:read", "chat:write", "users:read"]
    after = next(i for i in reviews.items(campaign.id) if i["integration"] == "crm-to-chat")
    assert after["decision"] is None
