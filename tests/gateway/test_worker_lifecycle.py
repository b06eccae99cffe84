"""``gateway serve --workers N``: heartbeats, unresponsive workers, rolling restart on SIGHUP.

The unit tests drive the supervisor's dealing and watching with fake workers; the others run
the real command, stop a worker with SIGSTOP (alive but silent, like a loop stuck in a busy
loop) and send SIGHUP while clients keep connecting.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import ssl
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ringfence.gateway import workers
from ringfence.gateway.workers import WorkerSupervisor, channel_pair
from ringfence.runtime import Runtime
from tests.gateway.test_cli import _serve, _socket_inodes
from tests.gateway.test_client_auth import make_ca
from tests.gateway.test_tls_termination import _server_cert


def test_a_worker_without_a_recent_heartbeat_gets_connections_only_when_none_other_can() -> None:
    sup = WorkerSupervisor({}, "127.0.0.1", 0, 2)
    silent_ours, silent_theirs = channel_pair()
    live_ours, live_theirs = channel_pair()
    now = time.monotonic()
    silent = SimpleNamespace(value=now - 10)  # stopped beating 10 s ago
    live = SimpleNamespace(value=now)
    sup._channels = [silent_ours, live_ours]
    sup._beats = [silent, live]
    spare = socket.socket()
    try:
        turn = 0
        for _ in range(4):  # in turn would give two to the silent worker
            turn = sup._hand_over(spare, turn)
        live_theirs.settimeout(2)
        for _ in range(4):
            assert len(socket.recv_fds(live_theirs, 1, 1)[1]) == 1
        silent_theirs.setblocking(False)
        with pytest.raises(BlockingIOError):
            socket.recv_fds(silent_theirs, 1, 1)
        # no worker beating (all starting): connections still go out, in turn
        live.value = 0.0
        turn = sup._hand_over(spare, turn)
        turn = sup._hand_over(spare, turn)
        silent_theirs.settimeout(2)
        assert len(socket.recv_fds(silent_theirs, 1, 1)[1]) == 1
        assert len(socket.recv_fds(live_theirs, 1, 1)[1]) == 1
    finally:
        for s in (silent_ours, silent_theirs, live_ours, live_theirs, spare):
            s.close()


class _FakeProc:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.exitcode: int | None = None
        self.killed = False

    def is_alive(self) -> bool:
        return self.exitcode is None

    def kill(self) -> None:
        self.killed = True
        self.exitcode = -9

    def join(self, timeout: float | None = None) -> None:
        pass


def test_a_silent_worker_is_killed_after_the_timeout_and_restarted_without_back_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(workers.time, "monotonic", lambda: now[0])
    sup = WorkerSupervisor({}, "127.0.0.1", 0, 2, worker_timeout=5)
    procs = [_FakeProc(1), _FakeProc(2)]
    beats = [SimpleNamespace(value=now[0]), SimpleNamespace(value=now[0])]
    sup._procs, sup._beats = list(procs), list(beats)  # type: ignore[assignment]
    sup._spawned_at = [now[0] - 100, now[0] - 100]
    spawned: list[int] = []

    def spawn(slot: int) -> None:
        spawned.append(slot)
        sup._spawned_at[slot] = now[0]
        sup._procs[slot] = _FakeProc(10 + slot)  # type: ignore[assignment]
        sup._beats[slot] = SimpleNamespace(value=0.0)

    monkeypatch.setattr(sup, "_spawn", spawn)
    for _ in range(8):  # worker 1 keeps beating; worker 0 went silent at 1000.0
        now[0] += 0.5
        beats[1].value = now[0]
        sup._watch(now[0])
    assert not procs[0].killed  # 4 s of silence: under the 5 s timeout
    now[0] += 1.5
    beats[1].value = now[0]
    sup._watch(now[0])
    assert procs[0].killed and not procs[1].killed
    sup._watch(now[0] + 0.5)  # the next look restarts it at once (it was killed, not crashing)
    assert spawned == [0]
    # a replacement that never starts serving is killed after the start-up allowance
    sup._watch(now[0] + workers.STARTUP_TIMEOUT - 1)
    assert not sup._procs[0].killed  # type: ignore[union-attr]
    sup._watch(now[0] + workers.STARTUP_TIMEOUT + 1)
    assert sup._procs[0].killed  # type: ignore[union-attr]
    assert not sup.failed


def test_a_retiring_worker_keeps_its_heartbeat_cell_so_a_new_worker_never_shares_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker replaced by a rolling restart keeps running (and beating) while it finishes
    its requests. multiprocessing's heap hands a freed Value's memory to the next one
    allocated, so if the supervisor let go of the old cell, the next worker started would get
    the same memory: the old worker's beats would make a starting worker look alive, and once
    the old one exited the stale time would get the starting worker killed as silent (seen
    under load: a worker killed while still loading the app, "no heartbeat for 3 s")."""
    sup = WorkerSupervisor({}, "127.0.0.1", 0, 1)
    procs: list[_FakeProc] = []
    cells: list[int] = []  # addresses only: holding the cells here would keep them allocated

    def start() -> tuple[Any, socket.socket, Any]:  # the real cell allocation, a fake process
        ours, theirs = channel_pair()
        theirs.close()
        beat = sup._ctx.Value(ctypes.c_double, 0.0, lock=False)
        procs.append(_FakeProc(100 + len(procs)))
        cells.append(ctypes.addressof(beat))
        return procs[-1], ours, beat

    monkeypatch.setattr(sup, "_start", start)
    sup._spawn(0)
    sup._beats[0].value = time.monotonic()  # serving
    sup._reload.set()
    sup._roll(time.monotonic())  # the replacement starts
    assert sup._replacement is not None
    sup._replacement.beat.value = time.monotonic()
    sup._roll(time.monotonic())  # it beats: installed; the old worker retires, still running
    assert sup._procs[0] is procs[1] and [r[0] for r in sup._retiring] == [procs[0]]
    sup._reload.set()
    sup._roll(time.monotonic())  # the next replacement starts while the old one still runs
    assert len(set(cells)) == 3, "a running worker's heartbeat cell was handed to a new worker"
    procs[0].exitcode = 0  # the retired worker finishes: its cell may go now
    sup._reap(time.monotonic())
    assert sup._retiring == []
    for ch in [*sup._channels, sup._replacement.channel]:
        if ch is not None:
            ch.close()


def _children(pid: int) -> set[int]:
    kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {int(k) for k in kids if _socket_inodes(int(k))}  # workers hold sockets


def _wait(predicate: Any, timeout: float, what: str, proc: Any) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, f"gateway exited while waiting for {what}: {_log_of(proc)}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {_log_of(proc)}"
        time.sleep(0.1)


def _log_of(proc: Any) -> str:
    path = getattr(proc, "log_path", None)
    return path.read_text(errors="replace")[-3000:] if path else ""


ERRORS: list[str] = []  # what each 0 below was (exception type and text), for failure messages


def _get(url: str, **kw: Any) -> int:
    """One request on a new connection; 0 for a connection error (described in ERRORS)."""
    try:
        with httpx.Client(timeout=10, **kw) as c:
            return c.get(url, headers={"connection": "close"}).status_code
    except httpx.HTTPError as exc:
        ERRORS.append(f"{time.monotonic():.3f} {type(exc).__name__}: {exc}"[:300])
        return 0


class _Clients(threading.Thread):
    """Opens a new connection per request until stopped and counts the results; with
    ``pause`` it waits that long between connecting and sending its request (a slow client:
    its connection is idle when handed over)."""

    def __init__(self, url: str, pause: float = 0.0) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.pause = pause
        self.results: list[int] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.results.append(self._slow() if self.pause else _get(self.url))

    def _slow(self) -> int:
        port = int(self.url.split(":")[2].split("/")[0])
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                time.sleep(self.pause)
                c.sendall(b"GET /healthz HTTP/1.1\r\nhost: gw\r\nconnection: close\r\n\r\n")
                head = c.recv(64)
            return int(head.split(b" ")[1]) if head.startswith(b"HTTP/1.1 ") else 0
        except OSError as exc:
            ERRORS.append(f"{time.monotonic():.3f} slow {type(exc).__name__}: {exc}"[:300])
            return 0


def test_a_stopped_worker_is_bypassed_then_replaced_and_sighup_restarts_all_without_a_refusal(
    gw_runtime: Runtime, tmp_path: Path
) -> None:
    log = tmp_path / "gateway.err"
    with log.open("wb") as err:
        proc, port = _serve(gw_runtime, "--workers", "2", "--worker-timeout", "3", stderr=err)
    proc.log_path = log
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        _wait(lambda: len(_children(proc.pid)) == 2 and _get(url) == 200, 60, "start", proc)
        time.sleep(workers.HEARTBEAT_INTERVAL * 2)  # both loops have beaten
        first = _children(proc.pid)
        stuck = min(first)
        os.kill(stuck, signal.SIGSTOP)  # alive, silent: what a stuck event loop looks like
        try:
            time.sleep(workers.STALE_FOR_DEALING + 0.3)
            # the silent worker gets no new connection: every one of these is answered
            assert [_get(url) for _ in range(6)] == [200] * 6
            _wait(lambda: stuck not in _children(proc.pid), 10, "the kill", proc)
        finally:
            if Path(f"/proc/{stuck}").exists():
                os.kill(stuck, signal.SIGCONT)
        _wait(lambda: len(_children(proc.pid)) == 2, 60, "the replacement", proc)
        second = _children(proc.pid)
        assert stuck not in second and len(second & first) == 1

        # SIGHUP: both workers replaced while clients keep opening connections
        _wait(lambda: _get(url) == 200, 60, "the replacement to serve", proc)
        clients, slow = _Clients(url), _Clients(url, pause=0.2)
        clients.start()
        slow.start()
        time.sleep(0.5)
        proc.send_signal(signal.SIGHUP)
        _wait(lambda: not (_children(proc.pid) & second), 90, "the rolling restart", proc)
        _wait(lambda: len(_children(proc.pid)) == 2, 30, "two workers", proc)
        time.sleep(0.5)
        for c in (clients, slow):
            c.done.set()
            c.join(timeout=20)
        assert len(clients.results) > 10 and len(slow.results) > 5
        # on failure: what the clients saw and what the gateway logged (a worker's exit?)
        seen = (ERRORS[-5:], f"now {time.monotonic():.3f}", _log_of(proc)[-2000:])
        assert set(clients.results) == {200}, (sorted(set(clients.results)), *seen)
        assert set(slow.results) == {200}, (sorted(set(slow.results)), *seen)
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0


def _served_serial(port: int, ca: Path) -> int:
    ctx = ssl.create_default_context(cafile=str(ca))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def test_sighup_serves_a_new_certificate_and_a_broken_one_leaves_the_workers_serving(
    gw_runtime: Runtime, tmp_path: Path
) -> None:
    ca_key, ca = make_ca("Reload test CA")
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file, key_file = tmp_path / "server.pem", tmp_path / "server.key"
    cert_pem, key_pem = _server_cert(ca_key, ca)
    cert_file.write_bytes(cert_pem)
    key_file.write_bytes(key_pem)
    old_serial = x509.load_pem_x509_certificate(cert_pem).serial_number
    log = tmp_path / "gateway.err"
    with log.open("wb") as err:
        proc, port = _serve(
            gw_runtime,
            "--workers",
            "2",
            "--tls-cert",
            str(cert_file),
            "--tls-key",
            str(key_file),
            stderr=err,
        )
    proc.log_path = log
    url = f"https://127.0.0.1:{port}/healthz"
    ok = ssl.create_default_context(cafile=str(ca_file))
    try:
        _wait(lambda: _get(url, verify=ok) == 200, 60, "start", proc)
        _wait(lambda: len(_children(proc.pid)) == 2, 30, "two workers", proc)
        # Both workers past their start (certificate loaded, then the policy: one
        # policy_loaded line each): a worker still starting when the certificate breaks
        # fails to start, which stops the gateway by design.
        _wait(lambda: log.read_bytes().count(b'"policy_loaded"') >= 2, 60, "workers", proc)
        before = _children(proc.pid)

        cert_file.write_bytes(b"-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n")
        proc.send_signal(signal.SIGHUP)
        _wait(lambda: b"gateway_reload_failed" in log.read_bytes(), 60, "the failure", proc)
        assert _children(proc.pid) == before  # the running workers stay
        assert {_served_serial(port, ca_file) for _ in range(4)} == {old_serial}

        new_pem, new_key = _server_cert(ca_key, ca)
        new_serial = x509.load_pem_x509_certificate(new_pem).serial_number
        key_file.write_bytes(new_key)
        cert_file.write_bytes(new_pem)
        proc.send_signal(signal.SIGHUP)
        _wait(lambda: not (_children(proc.pid) & before), 90, "the rolling restart", proc)
        _wait(lambda: len(_children(proc.pid)) == 2, 30, "two workers", proc)
        assert {_served_serial(port, ca_file) for _ in range(4)} == {new_serial}
        assert proc.poll() is None
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0


def test_the_default_single_worker_is_supervised_and_survives_sighup(
    gw_runtime: Runtime, tmp_path: Path
) -> None:
    """``gateway serve`` without ``--workers`` (one worker): an operator's SIGHUP replaces
    the worker instead of ending the gateway, with clients connecting throughout."""
    log = tmp_path / "gateway.err"
    with log.open("wb") as err:
        proc, port = _serve(gw_runtime, stderr=err)
    proc.log_path = log
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        _wait(lambda: len(_children(proc.pid)) == 1 and _get(url) == 200, 60, "start", proc)
        time.sleep(workers.HEARTBEAT_INTERVAL * 2)
        first = _children(proc.pid)
        clients = _Clients(url)
        clients.start()
        time.sleep(0.3)
        proc.send_signal(signal.SIGHUP)
        _wait(lambda: not (_children(proc.pid) & first), 90, "the restart", proc)
        _wait(lambda: len(_children(proc.pid)) == 1, 30, "one worker", proc)
        time.sleep(0.3)
        clients.done.set()
        clients.join(timeout=20)
        assert len(clients.results) > 5
        assert set(clients.results) == {200}, (sorted(set(clients.results)), ERRORS[-5:])
        assert proc.poll() is None
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0


def test_a_worker_that_cannot_start_ends_serve_with_an_error_not_a_restart_loop(
    gw_runtime: Runtime, tmp_path: Path
) -> None:
    """A broken certificate fails in uvicorn's set-up (exit 1 before the app starts): that is
    a start-up failure like any other, so the gateway stops non-zero instead of respawning
    the worker forever while the port accepts and resets connections."""
    cert, key = tmp_path / "broken.pem", tmp_path / "broken.key"
    cert.write_bytes(b"-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n")
    key.write_bytes(b"-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n")
    log = tmp_path / "gateway.err"
    with log.open("wb") as err:
        proc, _ = _serve(gw_runtime, "--tls-cert", str(cert), "--tls-key", str(key), stderr=err)
    try:
        code = proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text(errors="replace")
    assert code != 0, text[-2000:]
    assert "gateway_worker_failed_to_start" in text and "gateway_worker_died" not in text
