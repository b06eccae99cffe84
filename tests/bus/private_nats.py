"""A nats-server of one test's own (its own port, store directory and monitoring port), which
the test may kill, restart or stall (SIGSTOP) without touching the shared server on 4222."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.services import unavailable


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateNats:
    def __init__(self, store_dir: Path) -> None:
        binary = shutil.which("nats-server")
        if binary is None:
            unavailable("nats-server", "no nats-server binary on PATH")
        self.binary = str(binary)
        self.store_dir = store_dir
        self.port = _free_port()
        self.monitor_port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "-js",
                "-sd",
                str(self.store_dir),
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-m",
                str(self.monitor_port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                self.varz()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the private nats-server did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.resume()
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def stall(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGCONT)

    def varz(self) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.monitor_port}/varz"
        with urllib.request.urlopen(url, timeout=2) as answer:
            data: dict[str, Any] = json.load(answer)
        return data
