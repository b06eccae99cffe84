"""Review 10 finding #10: two applies at once never both write a plan made against the same
state (SQLite took no lock until the first write; PostgreSQL already planned under a lock)."""

from __future__ import annotations

import threading
import time

import pytest

from ringfence.inventory.estate import Plan, apply_estate, parse_estate, plan_estate
from ringfence.runtime import Runtime

HEAD = "apiVersion: ringfence/v1\n"


@pytest.mark.timeout(60)
def test_concurrent_applies_leave_the_store_as_one_of_the_files(any_runtime: Runtime) -> None:
    rt = any_runtime
    apply_estate(rt.store, parse_estate(HEAD + "vendors: [{name: Base}]\n"), clock=rt.clock)
    files = {
        "a": parse_estate(HEAD + "vendors: [{name: Base}, {name: FromA}]\n"),
        "b": parse_estate(HEAD + "vendors: [{name: FromB}]\n"),
    }
    outcome: dict[str, object] = {}

    def apply(key: str) -> None:
        def slow_review(plan: Plan) -> None:
            time.sleep(0.5)  # both would have planned by now, if nothing serialised them

        try:
            apply_estate(rt.store, files[key], clock=rt.clock, check=slow_review)
            outcome[key] = "applied"
        except Exception as exc:  # pragma: no cover - shown in the assertion
            outcome[key] = exc

    threads = [threading.Thread(target=apply, args=(k,)) for k in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcome == {"a": "applied", "b": "applied"}, outcome
    with rt.store.session() as s:
        left = {
            k: [(c.action, c.name) for c in plan_estate(s, f).changes] for k, f in files.items()
        }
    # the one applied last is what the store holds: its plan is empty
    assert [] in left.values(), f"the store matches neither file: {left}"
