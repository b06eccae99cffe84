"""Run real gateway processes (uvicorn as `gateway serve` runs it) and a private Redis."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.gateway.upstream import free_port

_SERVE = """
import uvicorn
uvicorn.run(
    "ringfence.gateway.cli:asgi_app",
    factory=True,
    host="127.0.0.1",
    port={port},
    loop="uvloop",
    http="ringfence.gateway.httpproto:GatewayHttpToolsProtocol",
    log_level="warning",
    access_log=False,
    proxy_headers=False,
    server_header=False,
)
"""


@contextmanager
def gateway_processes(
    data_dir: Path, count: int, *, redis_url: str | None, prefix: str = ""
) -> Iterator[list[str]]:
    """Start ``count`` gateway processes at once (they share the store); yield their URLs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RINGFENCE_")}
    env.update(
        {
            "RINGFENCE_DATA_DIR": str(data_dir),
            "RINGFENCE_SETTINGS_FILE": str(data_dir / "none.yaml"),
            "RINGFENCE_LOG_LEVEL": "warning",
            "RINGFENCE_GATEWAY_DLP_ENGINE": "builtin",
        }
    )
    if redis_url:
        env["RINGFENCE_GATEWAY_REDIS_URL"] = redis_url
        env["RINGFENCE_GATEWAY_REDIS_PREFIX"] = prefix
        # CI shares 2 cores between the test's load, two gateways and Redis: a slow answer
        # must not turn an allowed request into a fail-closed 503 and spoil the exact count.
        env["RINGFENCE_GATEWAY_REDIS_TIMEOUT_SECONDS"] = "5"
    procs: list[tuple[subprocess.Popen[bytes], str]] = []
    try:
        for _ in range(count):
            port = free_port()
            proc = subprocess.Popen(
                # uvicorn as `ringfence gateway serve` configures it (the gateway's HTTP
                # protocol, no proxy headers), without the CLI's start-up work (the whole
                # command tree, store checks), which doubles the start time on a busy machine.
                [sys.executable, "-c", _SERVE.format(port=port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            procs.append((proc, f"http://127.0.0.1:{port}"))
        deadline = time.monotonic() + 60  # two processes starting on a busy 2-core machine
        for proc, url in procs:
            while True:
                if proc.poll() is not None:
                    err = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
                    raise RuntimeError(f"gateway exited: {err}")
                if time.monotonic() > deadline:
                    raise RuntimeError("gateway did not start")
                try:
                    if httpx.get(url + "/healthz", timeout=0.5).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
        yield [url for _, url in procs]
    finally:
        for proc, _ in procs:
            proc.terminate()
        for proc, _ in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def private_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of our own on a free port (we may kill it; never the shared one)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise FileNotFoundError("redis-server")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import redis

        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
