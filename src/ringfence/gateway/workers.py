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

Each worker's event loop stamps a heartbeat in shared memory twice a second. A worker whose
stamp is older than ``STALE_FOR_DEALING`` gets no new connections while another can take
them; one silent for the worker timeout (a loop stuck in a busy loop or a deadlock, a stopped
process) is killed and restarted, as gunicorn's worker timeout does. SIGHUP restarts the
workers one at a time, each replacement started (and its heartbeat seen) before the worker it
replaces stops taking connections and finishes what it has: new TLS certificates, settings and
code are picked up with no refused connection, and a replacement that cannot start (a broken
certificate) leaves the running workers in place instead of ending the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import faulthandler
import functools
import multiprocessing
import os
import select
import signal
import socket
import threading
import time
from dataclasses import dataclass
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
HEARTBEAT_INTERVAL = 0.5  # seconds between a worker loop's heartbeats
STALE_FOR_DEALING = 2.0  # a heartbeat older than this: deal new connections elsewhere
STACK_DUMP_WAIT = 0.2  # seconds a worker about to be killed gets to write its stacks
WORKER_TIMEOUT = 30.0  # default: a heartbeat older than this: the worker is killed, restarted
STARTUP_TIMEOUT = 120.0  # a worker that has not started serving by then is killed
RETIRE_TIMEOUT = 60.0  # a replaced worker still finishing requests after this is killed
RETIRE_GRACE = 1.0  # a replaced worker serves on this long before its graceful shutdown
ATTACH_GRACE = 5.0  # at shutdown, TLS handshakes of handed-over connections may finish

Heartbeat = Any  # multiprocessing Value('d'): time.monotonic() of the worker loop's last beat


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

    def __init__(
        self, config: uvicorn.Config, channel: socket.socket, heartbeat: Heartbeat = None
    ) -> None:
        super().__init__(config)
        self._channel = channel
        self._heartbeat = heartbeat
        self._beating: asyncio.TimerHandle | None = None
        self._attaching: set[asyncio.Task[Any]] = set()

    def _beat(self) -> None:
        # CLOCK_MONOTONIC is one clock for every process on the host: the supervisor compares.
        self._heartbeat.value = time.monotonic()
        self._beating = asyncio.get_running_loop().call_later(HEARTBEAT_INTERVAL, self._beat)

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
            if not msg and not fds:  # channel closed: no new connections will come
                loop.remove_reader(self._channel.fileno())
                # Replaced (SIGHUP) or the supervisor is gone. Serve on a moment so that
                # connections attached just now get their first request in (a TLS client
                # sends it a round trip after the handshake) before uvicorn's graceful
                # shutdown closes idle connections; then finish and exit.
                loop.call_later(RETIRE_GRACE, setattr, self, "should_exit", True)
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
        if self._heartbeat is not None:
            self._beat()  # started: the supervisor may deal to this worker now

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._beating is not None:
            self._beating.cancel()
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(self._channel.fileno())
        if self._attaching:  # connections handed over still in their TLS handshake
            _, pending = await asyncio.wait(set(self._attaching), timeout=ATTACH_GRACE)
            for task in pending:
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


def _worker(
    config_kwargs: dict[str, Any], channel: socket.socket, heartbeat: Heartbeat = None
) -> None:
    # SIGHUP is the supervisor's (a rolling restart); sent to the whole process group it must
    # not end the workers on the spot.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    # SIGUSR1 writes every thread's Python stack to stderr from the signal handler itself (it
    # needs neither the loop nor the GIL): the supervisor sends it before killing a worker
    # whose loop stopped beating, so the log shows where it was stuck.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    server: DispatchedServer | None = None
    try:
        server = DispatchedServer(uvicorn.Config(**config_kwargs), channel, heartbeat)
        server.run()
    except Exception as exc:
        if server is not None and server.started:
            raise
        # Could not start (a broken certificate or key, a corrupt client-CA bundle, an app
        # factory that raises): a start-up failure, which the supervisor does not retry.
        _log.error("gateway_worker_start_failed", error_type=type(exc).__name__, error=str(exc))
        raise SystemExit(STARTUP_FAILURE) from None
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)


def _dump_stacks(pid: int | None) -> None:
    """Ask a worker for its threads' stacks (on its stderr) and give it a moment to write
    them; a stopped process writes nothing until it is continued, which the kill prevents."""
    if pid is None:
        return
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGUSR1)
        time.sleep(STACK_DUMP_WAIT)


def _fresh(beat: Heartbeat, now: float) -> bool:
    """Whether a worker's loop beat recently (a channel without a heartbeat counts as fresh)."""
    return beat is None or (beat.value > 0 and now - beat.value < STALE_FOR_DEALING)


@dataclass
class _Replacement:
    """A worker started by a rolling restart, not yet serving in place of ``slot``'s."""

    slot: int
    proc: SpawnProcess
    channel: socket.socket
    beat: Heartbeat
    started_at: float


class WorkerSupervisor:
    """Accepts on ``host:port`` and deals connections to ``count`` workers in turn."""

    def __init__(
        self,
        config_kwargs: dict[str, Any],
        host: str,
        port: int,
        count: int,
        *,
        worker_timeout: float = WORKER_TIMEOUT,
    ) -> None:
        self._kwargs = config_kwargs
        self._host = host
        self._port = port
        self._count = count
        self._worker_timeout = worker_timeout
        self._ctx = multiprocessing.get_context("spawn")
        self._procs: list[SpawnProcess | None] = [None] * count
        self._channels: list[socket.socket | None] = [None] * count
        self._beats: list[Heartbeat] = [None] * count
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._replacement: _Replacement | None = None
        self._reload_next = 0  # the next slot a rolling restart replaces
        # replaced workers finishing their requests, when replaced, and their heartbeat cells
        self._retiring: list[tuple[SpawnProcess, float, Heartbeat]] = []
        self.failed = False
        # restart bookkeeping per slot: when it was (re)started, the current back-off, when
        # the next attempt may run, and the dead process already logged
        self._spawned_at = [0.0] * count
        self._delay = [0.0] * count
        self._next_spawn = [0.0] * count
        self._logged_death: list[Any] = [None] * count

    def _start(self) -> tuple[SpawnProcess, socket.socket, Heartbeat]:
        ours, theirs = channel_pair()
        beat = self._ctx.Value(ctypes.c_double, 0.0, lock=False)
        proc = self._ctx.Process(target=_worker, args=(self._kwargs, theirs, beat), daemon=False)
        try:
            proc.start()
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()  # the worker has its own duplicate
        return proc, ours, beat

    def _spawn(self, slot: int) -> None:
        self._spawned_at[slot] = time.monotonic()
        proc, ours, beat = self._start()
        self._install(slot, proc, ours, beat)

    def _install(
        self, slot: int, proc: SpawnProcess, channel: socket.socket, beat: Heartbeat
    ) -> tuple[SpawnProcess | None, Heartbeat]:
        """Put a worker in ``slot``; closing the old channel tells the old worker (if alive) to
        attach what is still queued, finish its requests and exit. Returns the old process and
        its heartbeat cell: a worker still running writes to its cell, so the cell must stay
        allocated until the process has exited — freed, multiprocessing's heap hands the same
        memory to the next worker started, whose heartbeat the old one would then keep writing
        (and, once it exits, leave stale: the new worker, still starting, would be killed as
        silent)."""
        with self._lock:
            old_proc, old = self._procs[slot], self._channels[slot]
            old_beat = self._beats[slot]
            self._procs[slot], self._channels[slot], self._beats[slot] = proc, channel, beat
        if old is not None:
            old.close()
        return old_proc, old_beat

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
        """Give ``conn`` to the next worker that can take it, preferring workers whose loop beat
        recently (one that is starting, stuck or stopped gets connections only when no other
        worker is up). While every candidate's channel is full, hold it (and accept nothing
        more: later clients wait in the kernel's listen backlog) until one drains — resetting
        connections under a burst would turn load into errors. Only when no worker is alive is
        the connection dropped (the client sees a reset). Returns the next turn."""
        while not self._stop.is_set():
            now = time.monotonic()
            fresh: list[tuple[int, socket.socket]] = []
            stale: list[tuple[int, socket.socket]] = []
            with self._lock:
                for i in range(self._count):
                    slot = (turn + i) % self._count
                    channel = self._channels[slot]
                    if channel is not None:
                        up = _fresh(self._beats[slot], now)
                        (fresh if up else stale).append((slot, channel))
            full: list[socket.socket] = []
            for group in (fresh, stale):
                for slot, channel in group:
                    try:
                        socket.send_fds(channel, [b"c"], [conn.fileno()])
                        return slot + 1
                    except BlockingIOError:
                        full.append(channel)  # that worker is behind; try the others first
                    except OSError:
                        continue  # that worker is gone; the next one takes it
                if full:
                    break  # wait for these rather than hand it to a starting or stuck one
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

    def _unresponsive(self, slot: int, now: float) -> str | None:
        """Why the live worker in ``slot`` must be killed, or None: no heartbeat for the worker
        timeout (a loop stuck in a busy loop or a deadlock, a stopped process), or never started
        serving within ``STARTUP_TIMEOUT``."""
        beat = self._beats[slot]
        if beat is None:
            return None
        last = beat.value
        if last <= 0:
            waited = now - self._spawned_at[slot]
            return (
                f"not serving {waited:.0f} s after its start" if waited > STARTUP_TIMEOUT else None
            )
        silent = now - last
        return f"no heartbeat for {silent:.0f} s" if silent > self._worker_timeout else None

    def _watch(self, now: float) -> None:
        """One look at the workers: a dead one is restarted, an unresponsive one killed (the
        next look restarts it), a worker that cannot start at all stops the gateway."""
        for slot, proc in enumerate(self._procs):
            if proc is None:
                continue
            if proc.is_alive():
                why = self._unresponsive(slot, now)
                if why is not None:
                    _log.error("gateway_worker_unresponsive", pid=proc.pid, reason=why)
                    _dump_stacks(proc.pid)
                    proc.kill()  # a stuck loop never runs uvicorn's SIGTERM handler
                    proc.join(timeout=5)
                    self._spawned_at[slot] = 0.0  # killed, not crash-looping: no back-off
                continue
            if proc.exitcode == STARTUP_FAILURE:
                _log.error("gateway_worker_failed_to_start", pid=proc.pid)
                self.failed = True
                self._stop.set()
                return
            self._respawn(slot, proc)

    def reload(self, *_: Any) -> None:
        """SIGHUP: replace every worker, one at a time (see ``_roll``)."""
        self._reload.set()

    def _roll(self, now: float) -> None:
        """Advance a rolling restart by one step. A replacement is started for one slot; once
        its loop beats it takes the slot's new connections and the old worker finishes what it
        has (closing its channel tells it so) and exits. A replacement that dies or does not
        start in time ends the restart with the old workers still serving."""
        rep = self._replacement
        if rep is None:
            if self._reload_next == 0:  # not in a round: start one if asked
                if not self._reload.is_set():
                    return
                self._reload.clear()  # a SIGHUP from now on asks for another full round
                _log.info("gateway_reload_started", workers=self._count)
            slot = self._reload_next
            try:
                proc, channel, beat = self._start()
            except OSError as exc:
                _log.error("gateway_reload_failed", slot=slot, error=str(exc))
                self._reload_next = 0
                return
            self._replacement = _Replacement(slot, proc, channel, beat, now)
            return
        if rep.beat.value > 0:
            self._spawned_at[rep.slot] = rep.started_at
            old, old_beat = self._install(rep.slot, rep.proc, rep.channel, rep.beat)
            if old is not None and old.is_alive():
                self._retiring.append((old, now, old_beat))
            self._replacement = None
            self._reload_next = (rep.slot + 1) % self._count
            if self._reload_next == 0:
                _log.info("gateway_reload_finished", workers=self._count)
                if self._reload.is_set():  # another SIGHUP came during this round
                    self._roll(now)
            return
        dead = not rep.proc.is_alive()
        if dead or now - rep.started_at > STARTUP_TIMEOUT:
            reason = f"exit code {rep.proc.exitcode}" if dead else "did not start in time"
            _log.error("gateway_reload_failed", slot=rep.slot, reason=reason)
            if not dead:
                rep.proc.kill()
            rep.proc.join(timeout=5)
            rep.channel.close()
            self._replacement = None
            self._reload_next = 0
            self._reload.clear()

    def _rolling(self) -> bool:
        return self._reload.is_set() or self._replacement is not None or self._reload_next > 0

    def _reap(self, now: float) -> None:
        """Join replaced workers that finished; kill those still busy after RETIRE_TIMEOUT."""
        keep: list[tuple[SpawnProcess, float, Heartbeat]] = []
        for proc, since, beat in self._retiring:
            if not proc.is_alive():
                proc.join()
            elif now - since > RETIRE_TIMEOUT:
                _log.warning("gateway_retired_worker_killed", pid=proc.pid)
                proc.kill()
                proc.join(timeout=5)
            else:
                keep.append((proc, since, beat))
        self._retiring = keep  # an exited worker's cell is freed with the tuple

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
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, self.reload)
        dealer = threading.Thread(target=self._deal, args=(listener,), daemon=True)
        try:
            for slot in range(self._count):
                self._spawn(slot)
            dealer.start()
            while not self._stop.wait(0.1 if self._rolling() else 0.5):
                if not dealer.is_alive():
                    # Nothing would accept any more: exit non-zero (the process manager
                    # restarts the gateway) rather than keep the port bound and silent.
                    _log.error("gateway_dealer_stopped")
                    self.failed = True
                    break
                now = time.monotonic()
                self._watch(now)
                self._roll(now)
                self._reap(now)
        finally:
            self._stop.set()
            if dealer.is_alive():
                dealer.join(timeout=5)
            listener.close()
            procs = [p for p in self._procs if p is not None]
            procs += [p for p, _, _ in self._retiring]
            if self._replacement is not None:
                procs.append(self._replacement.proc)
                self._replacement.channel.close()
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
