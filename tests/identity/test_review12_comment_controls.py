"""Review 12 (console/output reviewer, low): access-review comments are written by
integration owners and shown to auditors in CSV exports on a terminal. A comment with terminal
escapes or bidi controls was stored and exported raw; now it is refused, and an exported cell
shows any control character left from before as U+FFFD."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import update

from ringfence.core.clock import FixedClock
from ringfence.core.errors import ValidationError
from ringfence.identity.models import ReviewItem
from ringfence.identity.reviews import AccessReviews
from ringfence.runtime import Runtime
from tests.identity.test_reviews import _campaign, _item


@pytest.fixture
def reviews(runtime: Runtime) -> AccessReviews:
    return AccessReviews(runtime.store, runtime.clock)


@pytest.mark.parametrize("bad", ["ok\x1b[2Jwiped", "ok\u202eevil", "a\x00b", "x\x9by"])
def test_a_comment_with_control_characters_is_refused(
    reviews: AccessReviews, clock: FixedClock, estate: dict[str, str], bad: str
) -> None:
    cid = _campaign(reviews, clock)
    item = _item(reviews, cid, "crm-to-chat")
    with pytest.raises(ValidationError, match="control or bidi"):
        reviews.decide(cid, item["id"], decision="revoke", comment=bad, actor="user:alice")
    # multi-line comments from a browser textarea (CRLF) and tabs are fine
    reviews.decide(
        cid, item["id"], decision="revoke", comment="line one\r\nline\ttwo", actor="user:alice"
    )


def test_export_shows_stored_controls_as_replacement_characters(
    reviews: AccessReviews, runtime: Runtime, clock: FixedClock, estate: dict[str, str]
) -> None:
    cid = _campaign(reviews, clock)
    item = _item(reviews, cid, "crm-to-chat")
    reviews.decide(cid, item["id"], decision="keep", comment="fine", actor="user:alice")
    with runtime.store.session() as s:  # as a comment stored before the refusal would be
        s.execute(
            update(ReviewItem)
            .where(ReviewItem.id == item["id"])
            .values(comment="fine\x1b]8;;https://evil\x07x\u202e")
        )
    out = reviews.export(cid, "csv")
    assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out
    rows = list(csv.reader(io.StringIO(out)))
    header = rows[1]
    by_name = {r[0]: dict(zip(header, r, strict=True)) for r in rows[2:]}
    assert by_name["crm-to-chat"]["comment"] == "fine\ufffd]8;;https://evil\ufffdx\ufffd"


def test_an_owner_lists_only_campaigns_with_their_integrations(
    reviews: AccessReviews, runtime: Runtime, clock: FixedClock, estate: dict[str, str]
) -> None:
    """API review 12 (low): GET /identity/reviews showed an integration owner every campaign;
    now `campaigns(reviewer_id=)` (what the route passes for an owner) holds only those with
    an item of an integration the person owns."""
    from sqlalchemy import select

    from ringfence.store.models import Person

    cid = _campaign(reviews, clock)
    with runtime.store.session() as s:
        ids = dict(s.execute(select(Person.email, Person.id)).tuples().all())
    assert [c.id for c in reviews.campaigns()] == [cid]
    assert [c.id for c in reviews.campaigns(reviewer_id=ids["alice@example.com"])] == [cid]
    assert reviews.campaigns(reviewer_id=ids["bob@example.com"]) == []
