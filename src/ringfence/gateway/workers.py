"""Worker processes of ``ringfence gateway serve --workers N``, one listening socket each.

uvicorn's own multi-worker mode binds one socket and hands it to every worker. A new
connection then goes to whichever worker wakes first, and that worker accepts every connection
waiting in the queue: when a client pool opens its keep-alive connections at once (a load
balancer, a sync job), one worker gets them all and the others idle. Measured on the gateway
benchmark at half load: all 13 connections on one of two workers, so one event loop queued
what two could serve — the main part of the half-load p99 tail with 2 workers.

Here every worker binds its own ``SO_REUSEPORT`` socket on the address and the kernel spreads
new connections across the workers' sockets (by a hash of the connection's addresses, as
nginx's ``reuseport``). The supervisor keeps a non-listening probe socket bound, so a second
server cannot take the port, restarts a worker that dies (a worker that fails at start stops
everything: it would fail again) and stops the workers on SIGINT/SIGTERM. Linux only accepts
``SO_REUSEPORT`` group members of the same user, so another account cannot join the group
and receive connections.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import threading
from multiprocessing.context import SpawnProcess
from typing import Any

from ringfence.core.logging import get_logger

_log = get_logger("ringfence.gateway.workers")
STARTUP_FAILURE = 3  # uvicorn's exit code for a worker that could not start


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` that other same-user sockets may also bind."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _worker(config_kwargs: dict[str, Any], host: str, port: int) -> None:
    import uvicorn

    try:
        sock = reuseport_socket(host, port)
    except OSError as exc:
        _log.error("gateway_worker_bind_failed", error=str(exc))
        raise SystemExit(STARTUP_FAILURE) from None
    server = uvicorn.Server(uvicorn.Config(**config_kwargs))
    server.run(sockets=[sock])
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)


class WorkerSupervisor:
    """Starts ``count`` workers with their own sockets, keeps them running, stops them."""

    def __init__(self, config_kwargs: dict[str, Any], host: str, port: int, count: int) -> None:
        self._kwargs = config_kwargs
        self._host = host
        self._port = port
        self._count = count
        self._ctx = multiprocessing.get_context("spawn")
        self._procs: list[SpawnProcess] = []
        self._stop = threading.Event()
        self.failed = False

    def _spawn(self) -> SpawnProcess:
        proc = self._ctx.Process(
            target=_worker, args=(self._kwargs, self._host, self._port), daemon=False
        )
        proc.start()
        return proc

    def stop(self, *_: Any) -> None:
        self._stop.set()

    def run(self) -> int:
        """Serve until a stop signal (0) or a worker that cannot start (non-zero)."""
        probe = reuseport_socket(self._host, self._port)  # fails fast if the port is taken
        previous = {sig: signal.signal(sig, self.stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self._procs = [self._spawn() for _ in range(self._count)]
            while not self._stop.wait(0.5):
                for i, proc in enumerate(self._procs):
                    if proc.is_alive():
                        continue
                    if proc.exitcode == STARTUP_FAILURE:
                        _log.error("gateway_worker_failed_to_start", pid=proc.pid)
                        self.failed = True
                        self._stop.set()
                        break
                    _log.warning("gateway_worker_died", pid=proc.pid, exitcode=proc.exitcode)
                    self._procs[i] = self._spawn()
        finally:
            for proc in self._procs:
                if proc.is_alive():
                    proc.terminate()  # SIGTERM: uvicorn finishes in-flight requests
            for proc in self._procs:
                proc.join(timeout=30)
                if proc.is_alive():
                    proc.kill()
                    proc.join()
            probe.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return STARTUP_FAILURE if self.failed else 0
