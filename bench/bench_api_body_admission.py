"""Peak memory of the API server while N unauthenticated clients each push a large upload.

Starts the control-plane API (``create_app`` under uvicorn, as ``ringfence serve`` runs it) in
a child process on a fresh data dir, opens N concurrent connections that each declare (or
stream) a 20 MiB body to the raw evidence upload route without a credential, and reports the
child's resident memory before and at its peak (``VmHWM``), the answers, and how many body
bytes each client had pushed when its answer came. Linux only (reads /proc).

    flock /tmp/bench.lock .venv/bin/python bench/bench_api_body_admission.py --connections 32
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_SERVER = """
import sys, uvicorn
from pathlib import Path
from ringfence.api import create_app
from ringfence.core.config import load_settings
from ringfence.runtime import Runtime, initialise
settings = load_settings(data_dir=Path(sys.argv[1]))
initialise(settings)
rt = Runtime.open(settings)
if len(sys.argv) > 3:  # --authenticated: a vendor to upload to and a write token
    from ringfence.inventory.repository import InventoryRepository
    from ringfence.store.apitokens import ApiTokens
    with rt.store.session() as s:
        InventoryRepository(s, actor="bench", clock=rt.clock).create("vendor", {"name": "Acme"})
    issued = ApiTokens(rt.store, rt.clock).issue("bench", ["read", "write"], 1)
    Path(sys.argv[3]).write_text(issued.token.get_secret_value())
app = create_app(rt)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", lifespan="off")
"""
PATH = "/api/v1/vendor-risk/document-uploads/Acme?filename=x.pdf"
SIZE = 20 * 1024 * 1024


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


async def _push(port: int, chunked: bool, token: str) -> tuple[int, int]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {SIZE}"
    if token:
        length += f"\r\nAuthorization: Bearer {token}"
    head = f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/pdf\r\n{length}\r\n\r\n"
    writer.write(head.encode())
    sent = 0
    block = b"x" * 65536

    async def body() -> None:
        nonlocal sent
        try:
            while sent < SIZE:
                writer.write(b"10000\r\n" + block + b"\r\n" if chunked else block)
                await writer.drain()
                sent += len(block)
            if chunked:
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except ConnectionError:
            pass

    task = asyncio.create_task(body())
    line = await asyncio.wait_for(reader.readline(), 120)
    at = sent
    task.cancel()
    writer.close()
    return int(line.split()[1]), at


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--chunked", action="store_true")
    ap.add_argument("--authenticated", action="store_true", help="with a write token (201s)")
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = Path(tempfile.mkdtemp()) / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RINGFENCE_")}
    env["RINGFENCE_SETTINGS_FILE"] = str(data.parent / "none.yaml")
    token_file = data.parent / "token"
    argv = [sys.executable, "-c", _SERVER, str(data), str(port)]
    child = subprocess.Popen(argv + ([str(token_file)] if args.authenticated else []), env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline and child.poll() is None, "server did not start"
                time.sleep(0.1)
        token = token_file.read_text() if args.authenticated else ""
        before = _kib(child.pid, "VmRSS")
        started = time.perf_counter()

        async def run() -> list[tuple[int, int]]:
            return await asyncio.gather(
                *(_push(port, args.chunked, token) for _ in range(args.connections))
            )

        answers = asyncio.run(run())
        took = time.perf_counter() - started
        peak = _kib(child.pid, "VmHWM")
        statuses = sorted({a for a, _ in answers})
        pushed = max(b for _, b in answers)
        mode = "chunked" if args.chunked else "Content-Length"
        who = "authenticated" if args.authenticated else "unauthenticated"
        print(
            f"{args.connections} x 20 MiB {who} ({mode}): answers {statuses} in "
            f"{took:.2f} s; server RSS {before // 1024} MiB before, peak {peak // 1024} MiB "
            f"(+{(peak - before) // 1024} MiB); most a client had pushed when answered: "
            f"{pushed // 1024} KiB"
        )
    finally:
        child.terminate()
        child.wait(10)


if __name__ == "__main__":
    main()
