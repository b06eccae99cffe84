"""The estate section registry is filled once, also when the first parses come at once (the
API parses estates in its thread pool): before, every thread but the discovering one saw a
half-filled registry, and a plan right after start-up could refuse 'vendors' as unknown."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import threading
from ringfence.inventory import sections
barrier = threading.Barrier(4)
seen = []
def first_parse():
    barrier.wait()
    seen.append(sections.get_section("vendors") is not None)
threads = [threading.Thread(target=first_parse) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(seen.count(True))
"""


def test_concurrent_first_lookups_all_see_every_section() -> None:
    # a fresh interpreter: discovery happens once per process
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "4"  # before: 1 (the discovering thread only)
