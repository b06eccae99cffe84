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


def _free_ports(n: int) -> list[int]:
    """``n`` distinct free ports (all held open while choosing, so none is chosen twice)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class PrivateNats:
    def __init__(self, store_dir: Path) -> None:
        binary = shutil.which("nats-server")
        if binary is None:
            unavailable("nats-server", "no nats-server binary on PATH")
        self.binary = str(binary)
        self.store_dir = store_dir
        self.port, self.monitor_port = _free_ports(2)
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
            if self.proc.poll() is not None:
                raise RuntimeError(f"the private nats-server exited ({self.proc.returncode})")
            try:
                # ours (its pid), and taking clients: not another server on a reused port
                if self.varz().get("server_id") and _listening(self.port):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("the private nats-server did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.resume()
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def stall(self) -> None:
        """SIGSTOP, and wait until every thread is stopped: the signal is delivered
        asynchronously, and a thread still running for a moment answered a publish sent right
        after (seen: the 'stalled' publish acknowledged in a few ms)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)
        tasks = Path(f"/proc/{self.proc.pid}/task")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            states = []
            for task in tasks.iterdir():
                try:
                    # the state follows the command name, which is in parentheses
                    states.append((task / "stat").read_text().rsplit(")", 1)[1].split()[0])
                except (OSError, IndexError):
                    continue
            if states and all(st in ("T", "t") for st in states):
                return
            time.sleep(0.01)
        raise RuntimeError("the private nats-server did not stop")

    def resume(self) -> None:
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGCONT)

    def varz(self) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.monitor_port}/varz"
        with urllib.request.urlopen(url, timeout=2) as answer:
            data: dict[str, Any] = json.load(answer)
        return data
