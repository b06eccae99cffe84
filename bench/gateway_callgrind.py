"""Gateway instructions per request under callgrind: a load-independent before/after figure.

Standalone (not a test): ``.venv/bin/python bench/gateway_callgrind.py [--requests 1000]
[--ab-src DIR]``. Needs valgrind, nginx (the upstream) and Redis (the limiter).

Wall-clock benchmarks of the gateway (``bench/bench_gateway.py``) move by tens of per cent with
whatever else shares the machine's two cores; a count of executed instructions does not. This
runs one gateway worker (``ringfence gateway serve --workers 1``) under ``valgrind
--tool=callgrind`` with instrumentation off until the worker is warm, then sends the full
pipeline's request (JWT + scope + Redis limit + JSON Schema + DLP on the 4 KiB body + audit)
``--requests`` times, one at a time with a 1 ms pause — the low-concurrency case, where each
request is its own trip round the event loop, as at half load — and reports the worker's
user-space instructions per request.

The worker's periodic work (policy polls 5/s, audit flushes, key-use flushes) runs on the
clock, and under valgrind the clock runs ~50 times slower than the requests: so the same worker is
also measured idle for as long as the requests took (``--idle-spans`` spans, their mean), and
that rate is subtracted. The audit sink flushes every 0.2 s whatever it holds, so a run whose
requests took longer (valgrind on a loaded machine) carries more flushes per request: compare
before and after of the same run (``--ab-src``), not figures of different runs. Kernel work
(system calls, the TCP stack) is not counted: ``bench_gateway.py`` measures that side.

``--ab-src DIR`` measures DIR/src's gateway (before) and this tree's (after) the same way and
prints the ratio; build DIR's C extensions first (see docs/benchmarks.md). ``--annotate N``
prints the N costliest C functions (inclusive) of this tree's run.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.bench_gateway import (  # noqa: E402
    _wait_ready,
    free_port,
    server_command,
    tree_pids,
    wait_port,
)
from bench.gateway_helpers import NGINX_CONF, body_4k, seed_bench_estate  # noqa: E402


def _callgrind_total(path: Path) -> int:
    for line in path.read_text().splitlines():
        if line.startswith("totals:") or line.startswith("summary:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


class _Client:
    """One keep-alive connection sending the bench request and reading the answer: the full
    pipeline's (JWT, POST of the 4 KiB body) or the pass-through route's (API key, GET)."""

    def __init__(self, port: int, token: str, api_key: str, route: str) -> None:
        if route == "pass":
            self.request = (
                f"GET /pass/items HTTP/1.1\r\nhost: bench\r\nx-api-key: {api_key}\r\n\r\n"
            ).encode()
        else:
            body = body_4k()
            self.request = (
                f"POST /full/items HTTP/1.1\r\nhost: bench\r\nauthorization: Bearer {token}"
                f"\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
            ).encode() + body
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def one(self) -> None:
        self.sock.sendall(self.request)
        buf = b""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("gateway closed the connection")
            buf += chunk
            head, sep, rest = buf.partition(b"\r\n\r\n")
            if not sep:
                continue
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"gateway answered {head[:20]!r}: {rest[:300]!r}")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            if len(rest) >= length:
                return


def _seed(src: Path, data: Path, master_key: str, upstream: str) -> dict[str, str]:
    """``seed_bench_estate`` run by the measured tree's own code: the route specs it stores
    are what that tree's models write and read (a newer tree's extra route fields would make
    an older gateway refuse the policy)."""
    if src.resolve() == (ROOT / "src").resolve():
        return seed_bench_estate(data, master_key, upstream)
    code = (
        "import json, sys; from pathlib import Path; "
        "from bench.gateway_helpers import seed_bench_estate; "
        "print(json.dumps(seed_bench_estate(Path(sys.argv[1]), sys.argv[2], sys.argv[3])))"
    )
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{ROOT}"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(data), master_key, upstream],
        env=env,
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def measure(
    src: Path,
    requests: int,
    work: Path,
    up_port: int,
    label: str,
    route: str = "full",
    idle_spans: int = 2,
) -> tuple[float, Path]:
    """Instructions per request of the gateway in ``src`` (and the callgrind file of the run)."""
    master_key = base64.b64encode(os.urandom(32)).decode()
    data = work / f"data-{label}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RINGFENCE_")}
    env.update(
        {
            "PYTHONPATH": str(src),
            "RINGFENCE_DATA_DIR": str(data),
            "RINGFENCE_MASTER_KEY": master_key,
            "RINGFENCE_SETTINGS_FILE": str(work / "none.yaml"),
            "RINGFENCE_LOG_LEVEL": "warning",
            "RINGFENCE_GATEWAY_AUDIT_FILE": str(work / f"audit-{label}.jsonl"),
            "RINGFENCE_GATEWAY_REDIS_URL": os.environ.get(
                "RINGFENCE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"
            ),
            "RINGFENCE_GATEWAY_REDIS_PREFIX": f"rfcg:{secrets.token_hex(4)}:",
            # Under valgrind a policy poll can take longer than the 2 s default staleness
            # bound; the bound does not change the work per request.
            "RINGFENCE_GATEWAY_MAX_STALENESS_SECONDS": "30",
        }
    )
    creds = _seed(src, data, master_key, f"http://127.0.0.1:{up_port}")
    port = free_port()
    out = work / f"cg-{label}"
    out.mkdir()
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--trace-children=yes",
        "--instr-atstart=no",
        f"--callgrind-out-file={out}/cg.%p",
        *server_command("serve", port, 1),
    ]
    gw = subprocess.Popen(
        cmd, env=env, cwd=str(work), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_port(port, timeout=600)
        _wait_ready(port, timeout=600, probe_timeout=30)
        import httpx

        token = httpx.post(
            f"http://127.0.0.1:{port}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(creds["client_id"], creds["client_secret"]),
            timeout=120,
        ).json()["access_token"]
        # the worker is the supervisor's multiprocessing child (not its resource tracker)
        worker = next(
            p
            for p in tree_pids(gw.pid)
            if p != gw.pid and b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()
        )
        client = _Client(port, token, creds["api_key"], route)
        for _ in range(200):
            client.one()

        def control(*args: str) -> None:
            subprocess.run(
                ["callgrind_control", *args, str(worker)],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

        def dumped() -> tuple[int, Path]:
            before = set(out.glob(f"cg.{worker}.*"))
            control("-d")
            for _ in range(600):
                new = set(out.glob(f"cg.{worker}.*")) - before
                if new:
                    time.sleep(0.5)
                    path = new.pop()
                    return _callgrind_total(path), path
                time.sleep(0.1)
            raise RuntimeError("callgrind dump did not appear")

        control("-i", "on")
        dumped()  # zero point
        started = time.perf_counter()
        for _ in range(requests):
            client.one()
            time.sleep(0.001)
        elapsed = time.perf_counter() - started
        busy, busy_file = dumped()
        # The idle work (policy polls, flushes) comes in lumps: measured over ``idle_spans``
        # spans as long as the requests took, and their mean subtracted.
        idles = []
        for _ in range(idle_spans):
            time.sleep(elapsed)
            idles.append(dumped()[0])
        idle = sum(idles) // len(idles)
        per_request = (busy - idle) / requests
        print(
            f"{label}: {busy:,} instructions for {requests} requests in {elapsed:.1f} s; "
            f"{idle:,} idle over the same time (mean of {', '.join(f'{i:,}' for i in idles)}); "
            f"{per_request:,.0f} per request"
        )
        return per_request, busy_file  # the requests' dump (--keep, --annotate)
    finally:
        gw.terminate()
        try:
            gw.wait(timeout=60)
        except subprocess.TimeoutExpired:
            gw.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--ab-src", type=Path, default=None, help="before tree (DIR/src)")
    parser.add_argument("--annotate", type=int, default=0, help="print N costliest functions")
    parser.add_argument(
        "--keep", type=Path, default=None, help="copy this tree's callgrind output file here"
    )
    parser.add_argument(
        "--route",
        choices=["full", "pass"],
        default="full",
        help="full: JWT + scope + Redis limit + schema + DLP + audit on the 4 KiB POST; "
        "pass: API key, no limit / schema / DLP, GET (the framework and forwarding alone)",
    )
    parser.add_argument(
        "--idle-spans",
        type=int,
        default=2,
        help="idle spans measured (as long as the requests took) for the idle rate subtracted; "
        "more spans average its lumps (policy polls, flushes) better",
    )
    args = parser.parse_args()
    for tool in ("valgrind", "callgrind_control", "nginx"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed; stopping.")
            return 2
    work = Path(tempfile.mkdtemp(prefix="rf-cg-gw-"))
    nginx = None
    try:
        up_port, proxy_port = free_port(), free_port()
        conf = work / "nginx.conf"
        conf.write_text(NGINX_CONF.format(work=work, up_port=up_port, proxy_port=proxy_port))
        nginx = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(work)])
        wait_port(up_port)
        print(
            f"# gateway instructions per request (callgrind, user space), "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {args.requests} sequential "
            f"{args.route} requests, 1 worker"
        )
        rows: list[tuple[str, float]] = []
        if args.ab_src is not None:
            before, _ = measure(
                args.ab_src / "src",
                args.requests,
                work,
                up_port,
                "before",
                args.route,
                args.idle_spans,
            )
            rows.append(("before", before))
        after, cg_file = measure(
            ROOT / "src", args.requests, work, up_port, "after", args.route, args.idle_spans
        )
        rows.append(("after", after))
        if len(rows) == 2:
            print(f"after / before = {rows[1][1] / rows[0][1]:.3f}")
        if args.keep is not None:
            shutil.copyfile(cg_file, args.keep)
        if args.annotate:
            text = subprocess.run(
                ["callgrind_annotate", "--inclusive=yes", str(cg_file)],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            lines = [ln for ln in text.splitlines() if "(" in ln and "%)" in ln]
            print("\n".join(lines[: args.annotate]))
    finally:
        if nginx is not None:
            subprocess.run(
                ["nginx", "-c", str(work / "nginx.conf"), "-p", str(work), "-s", "stop"],
                stderr=subprocess.DEVNULL,
                check=False,
            )
            nginx.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
