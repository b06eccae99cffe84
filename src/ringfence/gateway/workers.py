"""Worker processes of ``ringfence gateway serve --workers N``: the supervisor accepts and
deals new connections to the workers in turn.

uvicorn's own multi-worker mode shares one listening socket and a worker's event loop accepts
every waiting connection when it wakes: when a client pool opens its keep-alive connections at
once (a load balancer, a sync job), the worker that woke first gets them all and the others
idle. Measured on the gateway benchmark at half load: all 13 connections on one of two
workers, so one event loop queued what two could serve — the main part of the half-load p99
tail with 2 workers. Per-worker ``SO_REUSEPORT`` sockets spread connections by a hash (9 of
13 on one worker one time in four); one accept per wake-up on a shared socket still lets a
running worker take a whole burst.

So the supervisor accepts (one thread, blocking ``accept``) and hands each connection's file
descriptor to the next live worker over a Unix ``SOCK_SEQPACKET`` pair (``SCM_RIGHTS``), round
robin, as Node's cluster module does; the worker attaches it to its event loop with uvicorn's
own protocol and state, so TLS, graceful shutdown and connection tracking work unchanged. The
supervisor binds the port (failing fast if it is taken), restarts a worker that dies (the
connections it had not yet attached are reset), stops everything if a worker cannot start, and
stops the workers on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import multiprocessing
import select
import signal
import socket
import threading
import time
from multiprocessing.context import SpawnProcess
from typing import Any

import uvicorn

from ringfence.core.errors import UnavailableError
from ringfence.core.logging import get_logger

_log = get_logger("ringfence.gateway.workers")
STARTUP_FAILURE = 3  # uvicorn's exit code for a worker that could not start
CHANNEL_BUFFER = 8192  # bytes of unread hand-overs a worker's channel may hold
RESTART_WINDOW = 10.0  # a worker dying sooner than this after its start backs off ...
MIN_RESTART_DELAY = 0.5  # ... from this ...
MAX_RESTART_DELAY = 30.0  # ... doubling up to this


def listening_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def channel_pair() -> tuple[socket.socket, socket.socket]:
    """(supervisor's end, worker's end) of the channel that carries connections to a worker.

    The supervisor's end does not block: a worker whose loop is stuck stops reading, and its
    full channel must not stall the dealer (and so every worker); the connection goes to the
    next worker instead.
    """
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ours.setblocking(False)
    # A small buffer: a worker that is alive but stuck strands only the few connections
    # already in its channel (the default held ~280); the rest go to the others, and a
    # burst waits in the listen backlog while the workers take what they have.
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CHANNEL_BUFFER)
    return ours, theirs


class DispatchedServer(uvicorn.Server):
    """uvicorn's server for connections that arrive as file descriptors on ``channel``."""

    def __init__(self, config: uvicorn.Config, channel: socket.socket) -> None:
        super().__init__(config)
        self._channel = channel
        self._attaching: set[asyncio.Task[Any]] = set()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # lifespan and state; no listener of its own
        config = self.config
        loop = asyncio.get_running_loop()
        # The protocol uvicorn's own listeners would build, with the same shared state.
        factory = functools.partial(  # type: ignore[call-arg]
            config.http_protocol_class,
            config=config,
            server_state=self.server_state,
            app_state=self.lifespan.state,
        )
        self._channel.setblocking(False)

        def receive() -> None:
            try:
                msg, fds, _flags, _addr = socket.recv_fds(self._channel, 1, 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                msg, fds = b"", []
            if not msg and not fds:  # the supervisor is gone: no new connections will come
                loop.remove_reader(self._channel.fileno())
                self.should_exit = True
                return
            for fd in fds:
                conn = socket.socket(fileno=fd)
                conn.setblocking(False)
                if conn.family in (socket.AF_INET, socket.AF_INET6):
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                task = loop.create_task(_attach(loop, factory, conn, config.ssl))
                self._attaching.add(task)
                task.add_done_callback(self._attaching.discard)

        loop.add_reader(self._channel.fileno(), receive)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(self._channel.fileno())
        for task in list(self._attaching):
            task.cancel()
        await super().shutdown(sockets)


async def _attach(
    loop: asyncio.AbstractEventLoop, factory: Any, conn: socket.socket, ssl: Any
) -> None:
    try:
        await loop.connect_accepted_socket(factory, conn, ssl=ssl)
    except (OSError, asyncio.CancelledError, TimeoutError):
        conn.close()  # the client went away or never finished the TLS handshake
    except Exception as exc:
        _log.warning("gateway_connection_setup_failed", error_type=type(exc).__name__)
        conn.close()


def _worker(config_kwargs: dict[str, Any], channel: socket.socket) -> None:
    server = DispatchedServer(uvicorn.Config(**config_kwargs), channel)
    server.run()
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)


class WorkerSupervisor:
    """Accepts on ``host:port`` and deals connections to ``count`` workers in turn."""

    def __init__(self, config_kwargs: dict[str, Any], host: str, port: int, count: int) -> None:
        self._kwargs = config_kwargs
        self._host = host
        self._port = port
        self._count = count
        self._ctx = multiprocessing.get_context("spawn")
        self._procs: list[SpawnProcess | None] = [None] * count
        self._channels: list[socket.socket | None] = [None] * count
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.failed = False
        # restart bookkeeping per slot: when it was (re)started, the current back-off, when
        # the next attempt may run, and the dead process already logged
        self._spawned_at = [0.0] * count
        self._delay = [0.0] * count
        self._next_spawn = [0.0] * count
        self._logged_death: list[Any] = [None] * count

    def _spawn(self, slot: int) -> None:
        self._spawned_at[slot] = time.monotonic()
        ours, theirs = channel_pair()
        proc = self._ctx.Process(target=_worker, args=(self._kwargs, theirs), daemon=False)
        proc.start()
        theirs.close()  # the worker has its own duplicate
        with self._lock:
            old = self._channels[slot]
            self._procs[slot], self._channels[slot] = proc, ours
        if old is not None:
            old.close()

    def _deal(self, listener: socket.socket) -> None:
        try:
            self._deal_forever(listener)
        except Exception as exc:  # the supervisor's loop sees the thread gone and exits
            _log.error("gateway_dealer_failed", error_type=type(exc).__name__)
            raise

    def _deal_forever(self, listener: socket.socket) -> None:
        turn = 0
        while not self._stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                if self._stop.is_set():
                    return
                _log.warning("gateway_accept_failed", error=str(exc))
                self._stop.wait(0.05)  # e.g. out of file descriptors
                continue
            with conn:
                turn = self._hand_over(conn, turn)

    def _hand_over(self, conn: socket.socket, turn: int) -> int:
        """Give ``conn`` to the next worker that can take it. While every live worker's channel
        is full, hold it (and accept nothing more: later clients wait in the kernel's listen
        backlog) until one drains — resetting connections under a burst would turn load into
        errors. Only when no worker is alive is the connection dropped (the client sees a
        reset). Returns the next turn."""
        while not self._stop.is_set():
            full: list[socket.socket] = []
            for _ in range(self._count):
                slot, turn = turn % self._count, turn + 1
                with self._lock:
                    channel = self._channels[slot]
                if channel is None:
                    continue
                try:
                    socket.send_fds(channel, [b"c"], [conn.fileno()])
                    return turn
                except BlockingIOError:
                    full.append(channel)  # that worker is behind; try the others first
                except OSError:
                    continue  # that worker is gone; the next one takes it
            if not full:
                return turn  # no live worker: closing the connection resets the client
            with contextlib.suppress(OSError, ValueError):  # a channel closed meanwhile
                select.select([], full, [], 0.1)
        return turn

    def _respawn(self, slot: int, dead: Any) -> None:
        """Replace a worker that died, backing off while it keeps dying (a crash loop must not
        spin the supervisor) and retrying later when a new one cannot be started now (out of
        memory or processes): the others keep serving meanwhile."""
        now = time.monotonic()
        if now < self._next_spawn[slot]:
            return
        if self._logged_death[slot] is not dead:
            _log.warning("gateway_worker_died", pid=dead.pid, exitcode=dead.exitcode)
            self._logged_death[slot] = dead
        quick = now - self._spawned_at[slot] < RESTART_WINDOW
        self._delay[slot] = (
            min(max(self._delay[slot] * 2, MIN_RESTART_DELAY), MAX_RESTART_DELAY) if quick else 0.0
        )
        try:
            self._spawn(slot)
        except OSError as exc:
            _log.error("gateway_worker_spawn_failed", error=str(exc))
            self._delay[slot] = max(self._delay[slot], MIN_RESTART_DELAY)
        self._next_spawn[slot] = now + self._delay[slot]

    def stop(self, *_: Any) -> None:
        self._stop.set()

    def run(self) -> int:
        """Serve until a stop signal (0), or a worker that cannot start or a dealer that stopped
        (non-zero)."""
        multiprocessing.allow_connection_pickling()  # the channel travels to spawned workers
        try:
            listener = listening_socket(self._host, self._port)
        except OSError as exc:  # fail fast, one clear line: port taken, address not local, ...
            raise UnavailableError(
                f"cannot listen on {self._host}:{self._port}: {exc.strerror or exc}",
                code="listen_failed",
            ) from None
        listener.setblocking(True)
        listener.settimeout(0.5)
        previous = {sig: signal.signal(sig, self.stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        dealer = threading.Thread(target=self._deal, args=(listener,), daemon=True)
        try:
            for slot in range(self._count):
                self._spawn(slot)
            dealer.start()
            while not self._stop.wait(0.5):
                if not dealer.is_alive():
                    # Nothing would accept any more: exit non-zero (the process manager
                    # restarts the gateway) rather than keep the port bound and silent.
                    _log.error("gateway_dealer_stopped")
                    self.failed = True
                    break
                for slot, proc in enumerate(self._procs):
                    if proc is None or proc.is_alive():
                        continue
                    if proc.exitcode == STARTUP_FAILURE:
                        _log.error("gateway_worker_failed_to_start", pid=proc.pid)
                        self.failed = True
                        self._stop.set()
                        break
                    self._respawn(slot, proc)
        finally:
            self._stop.set()
            if dealer.is_alive():
                dealer.join(timeout=5)
            listener.close()
            procs = [p for p in self._procs if p is not None]
            for proc in procs:
                if proc.is_alive():
                    proc.terminate()  # SIGTERM: uvicorn finishes in-flight requests
            for proc in procs:
                proc.join(timeout=30)
                if proc.is_alive():
                    proc.kill()
                    proc.join()
            for channel in self._channels:
                if channel is not None:
                    channel.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return STARTUP_FAILURE if self.failed else 0
