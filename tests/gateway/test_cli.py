"""``ringfence gateway`` commands: secrets shown once, bad input is one clear line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ringfence.cli.app import app
from ringfence.runtime import Runtime

runner = CliRunner()


def _args(rt: Runtime, *a: str) -> list[str]:
    return [*a, "--data-dir", str(rt.settings.data_dir)]


def test_client_and_key_lifecycle(gw_runtime: Runtime) -> None:
    r = runner.invoke(
        app,
        _args(
            gw_runtime,
            "gateway",
            "client",
            "create",
            "hr-to-crm",
            "-s",
            "crm.read",
            "--claim",
            "tenant=t-9",
            "-o",
            "json",
        ),
    )
    assert r.exit_code == 0, r.output
    created = json.loads(r.stdout)
    assert created["client_secret"].startswith("rf_cs_")
    listed = runner.invoke(app, _args(gw_runtime, "gateway", "client", "list", "-o", "json"))
    assert created["client_secret"] not in listed.stdout
    assert created["client_id"] in listed.stdout
    k = runner.invoke(
        app, _args(gw_runtime, "gateway", "key", "create", created["client_id"], "-o", "json")
    )
    key = json.loads(k.stdout)
    assert key["api_key"].startswith("rf_gw_")
    rot = runner.invoke(
        app,
        _args(
            gw_runtime,
            "gateway",
            "key",
            "rotate",
            key["prefix"],
            "--overlap-hours",
            "2",
            "-o",
            "json",
        ),
    )
    assert rot.exit_code == 0 and json.loads(rot.stdout)["api_key"] != key["api_key"]
    keys = runner.invoke(app, _args(gw_runtime, "gateway", "key", "list", "-o", "json"))
    assert key["api_key"] not in keys.stdout and key["prefix"] in keys.stdout
    assert (
        runner.invoke(app, _args(gw_runtime, "gateway", "key", "revoke", key["prefix"])).exit_code
        == 0
    )
    assert (
        runner.invoke(
            app, _args(gw_runtime, "gateway", "client", "revoke", created["client_id"])
        ).exit_code
        == 0
    )


def test_bad_inputs_are_clear_errors(gw_runtime: Runtime, tmp_path: Path) -> None:
    from ringfence.core.errors import RingfenceError

    cases = [
        ("gateway", "client", "create", "no-such-integration", "-s", "x"),
        ("gateway", "client", "create", "hr-to-crm", "-s", "x", "--auth-method", "magic"),
        ("gateway", "client", "create", "hr-to-crm", "-s", "x", "--claim", "iss=evil"),
        ("gateway", "key", "create", "rfc_missing"),
        ("gateway", "key", "revoke", "000000000000"),
        ("gateway", "client", "create", "hr-to-crm", "-s", "bad scope"),
    ]
    for case in cases:
        r = runner.invoke(app, _args(gw_runtime, *case))
        # main() renders a RingfenceError as one red line; anything else would be a traceback
        assert r.exit_code != 0, case
        assert isinstance(r.exception, RingfenceError), (case, r.exception)


def _serve(gw_runtime: Runtime, *extra: str, stderr: Any = None) -> tuple[Any, int]:
    """``ringfence gateway serve`` in a process of its own on a free port: (process, port).
    Its stderr goes to ``stderr`` (a file) when given, else to a pipe."""
    import os
    import subprocess
    import sys

    from tests.gateway.upstream import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RINGFENCE_")}
    env["RINGFENCE_SETTINGS_FILE"] = str(gw_runtime.settings.data_dir / "none.yaml")
    env["RINGFENCE_GATEWAY_DLP_ENGINE"] = "builtin"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from ringfence.cli import main; main()",
            "gateway",
            "serve",
            "--port",
            str(port),
            *extra,
            "--data-dir",
            str(gw_runtime.settings.data_dir),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE if stderr is None else stderr,
    )
    return proc, port


def test_gateway_serve_runs_and_is_ready(gw_runtime: Runtime) -> None:
    import time

    import httpx

    proc, port = _serve(gw_runtime)
    try:
        # ~9 s on an idle 2-core machine; a loaded one (CI beside other work) took over 30
        deadline = time.monotonic() + 90
        ready = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert ready is not None and ready.status_code == 200, proc.stderr
        assert ready.json()["routes"] == 2
        jwks = httpx.get(f"http://127.0.0.1:{port}/.well-known/jwks.json").json()
        assert jwks["keys"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_refuses_half_a_tls_configuration(gw_runtime: Runtime, tmp_path: Path) -> None:
    from ringfence.core.errors import RingfenceError

    r = runner.invoke(
        app, _args(gw_runtime, "gateway", "serve", "--tls-cert", str(tmp_path / "c.pem"))
    )
    assert isinstance(r.exception, RingfenceError)


def test_serve_ignores_client_forwarded_headers(gw_runtime: Runtime, monkeypatch: Any) -> None:
    from ringfence.gateway import workers

    seen: dict[str, Any] = {}

    class Recorder:
        def __init__(self, options: dict[str, Any], *args: Any, **kw: Any) -> None:
            seen.update(options)

        def run(self) -> int:
            return 0

    monkeypatch.setattr(workers, "WorkerSupervisor", Recorder)
    r = runner.invoke(app, _args(gw_runtime, "gateway", "serve", "--port", "18443"))
    assert r.exit_code == 0, r.output
    # A loopback client must not be able to pick its own address with X-Forwarded-For.
    assert seen["proxy_headers"] is False
    assert seen["loop"] == "uvloop"
    assert seen["http"] == "ringfence.gateway.httpproto:GatewayHttpToolsProtocol"


def _socket_inodes(pid: int) -> set[str]:
    import os

    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _tcp_sockets(port: int) -> dict[str, str]:
    """inode -> state ('0A' listen, '01' established) of local TCP sockets on ``port``."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    found[fields[9]] = fields[3]
    return found


def test_serve_workers_get_new_connections_in_turn(gw_runtime: Runtime) -> None:
    # uvicorn's multi-worker mode shared one listening socket: a burst of new connections all
    # went to the worker that woke first. The supervisor now accepts and deals them in turn.
    import socket
    import time

    import httpx

    proc, port = _serve(gw_runtime, "--workers", "2")
    clients: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        workers = [int(c) for c in children if _socket_inodes(int(c))]
        # Both workers serving: a worker still starting gets no connections (its loop has not
        # beaten yet), so two connections held open at once land one on each only then.
        while time.monotonic() < deadline:
            pair = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(2)]
            for c in pair:
                c.sendall(b"GET /healthz HTTP/1.1\r\nhost: gw\r\n\r\n")
                c.recv(4096)
            spread = sorted(_states(w, port).count("01") for w in workers)
            for c in pair:
                c.close()
            if spread == [1, 1]:
                break
            time.sleep(0.3)
        time.sleep(0.3)  # the pair's connections are closed on the workers' side too
        # the supervisor listens; the workers only serve what they are handed
        assert "0A" in _states(proc.pid, port)
        assert all("0A" not in _states(w, port) for w in workers)
        for _ in range(24):  # a client pool opening its connections at once
            c = socket.create_connection(("127.0.0.1", port), timeout=10)
            c.sendall(b"GET /healthz HTTP/1.1\r\nhost: gw\r\n\r\n")
            clients.append(c)
        for c in clients:
            assert c.recv(4096).startswith(b"HTTP/1.1 200")
        served = sorted(_states(w, port).count("01") for w in workers if _states(w, port))
        assert served == [12, 12], served
    finally:
        for c in clients:
            c.close()
        proc.terminate()
        assert proc.wait(timeout=30) == 0


def _states(pid: int, port: int) -> list[str]:
    """TCP states of ``pid``'s sockets on local ``port``."""
    mine = _socket_inodes(pid)
    return [s for i, s in _tcp_sockets(port).items() if i in mine]


def test_serve_workers_on_a_taken_port_is_one_clear_error(gw_runtime: Runtime) -> None:
    import socket

    from ringfence.core.errors import RingfenceError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        r = runner.invoke(
            app, _args(gw_runtime, "gateway", "serve", "--port", str(port), "--workers", "2")
        )
    assert isinstance(r.exception, RingfenceError), r.exception
    assert f"127.0.0.1:{port}" in str(r.exception)


def test_a_worker_that_stops_reading_does_not_stall_the_others() -> None:
    import socket
    import threading

    from ringfence.gateway.workers import WorkerSupervisor, channel_pair, listening_socket

    sup = WorkerSupervisor({}, "127.0.0.1", 0, 2)
    stuck_ours, stuck_theirs = channel_pair()
    live_ours, live_theirs = channel_pair()
    while True:  # the stuck worker's channel is full
        try:
            stuck_ours.send(b"x" * 1024, socket.MSG_DONTWAIT)
        except BlockingIOError:
            break
    sup._channels = [stuck_ours, live_ours]
    listener = listening_socket("127.0.0.1", 0)
    listener.setblocking(True)
    listener.settimeout(0.2)
    dealer = threading.Thread(target=sup._deal, args=(listener,), daemon=True)
    dealer.start()
    clients = [socket.create_connection(listener.getsockname()[:2]) for _ in range(3)]
    try:
        live_theirs.settimeout(5)
        handed = [socket.recv_fds(live_theirs, 1, 1)[1] for _ in range(3)]
        assert all(len(fds) == 1 for fds in handed)  # all three reached the live worker
        for fds in handed:
            socket.socket(fileno=fds[0]).close()
    finally:
        sup.stop()
        dealer.join(timeout=5)
        for s in (*clients, listener, stuck_ours, stuck_theirs, live_ours, live_theirs):
            s.close()


def test_a_burst_that_fills_every_worker_waits_instead_of_being_reset() -> None:
    """Every worker's channel full: the supervisor holds the connection (later ones wait in the
    listen backlog) and hands it over once a worker drains — it used to reset it."""
    import socket
    import threading
    import time

    from ringfence.gateway.workers import WorkerSupervisor, channel_pair, listening_socket

    sup = WorkerSupervisor({}, "127.0.0.1", 0, 1)
    ours, theirs = channel_pair()
    filler = 0
    while True:  # the only worker's channel is full
        try:
            ours.send(b"x" * 1024, socket.MSG_DONTWAIT)
            filler += 1
        except BlockingIOError:
            break
    sup._channels = [ours]
    listener = listening_socket("127.0.0.1", 0)
    listener.setblocking(True)
    listener.settimeout(0.2)
    dealer = threading.Thread(target=sup._deal, args=(listener,), daemon=True)
    dealer.start()
    client = socket.create_connection(listener.getsockname()[:2])
    try:
        time.sleep(0.5)  # the dealer holds it while the channel is full
        theirs.settimeout(5)
        for _ in range(filler):  # the worker catches up
            socket.recv_fds(theirs, 1024, 1)
        _, fds, _, _ = socket.recv_fds(theirs, 1, 1)
        assert len(fds) == 1  # the held connection arrives, not a reset
        handed = socket.socket(fileno=fds[0])
        client.sendall(b"ping")
        assert handed.recv(4) == b"ping"
        handed.close()
    finally:
        sup.stop()
        dealer.join(timeout=5)
        for s in (client, listener, ours, theirs):
            s.close()


def test_a_stuck_worker_strands_only_a_few_connections() -> None:
    """A worker that is alive but no longer reads its channel holds at most a few hand-overs
    (review G1: the default buffer let ~280 connections queue behind a stuck loop)."""
    import socket

    from ringfence.gateway.workers import channel_pair

    ours, theirs = channel_pair()
    spare = socket.socket()
    queued = 0
    try:
        while queued < 1000:
            try:
                socket.send_fds(ours, [b"c"], [spare.fileno()])
            except BlockingIOError:
                break
            queued += 1
        assert 0 < queued <= 64, queued
    finally:
        for s in (ours, theirs, spare):
            s.close()


def test_a_dealer_that_dies_stops_the_supervisor_with_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If the accepting thread dies, nothing accepts any more: the supervisor must exit
    non-zero (so a process manager restarts the gateway), not hold the port in silence."""
    import threading

    from ringfence.gateway import workers

    sup = workers.WorkerSupervisor({}, "127.0.0.1", 0, 1)
    monkeypatch.setattr(sup, "_spawn", lambda slot: None)

    def broken(listener: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(sup, "_deal", broken)
    deadline = threading.Timer(10, sup.stop)  # a supervisor that never notices stops with 0
    deadline.start()
    try:
        assert sup.run() != 0
    finally:
        deadline.cancel()


def test_a_crash_looping_worker_is_restarted_with_back_off_and_spawn_errors_are_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker that dies right after every start is restarted ever more slowly (it must not
    spin the supervisor), and a restart that cannot start a process now (OSError) is tried
    again later instead of ending the gateway."""
    import itertools
    from types import SimpleNamespace

    from ringfence.gateway import workers

    now = [100.0]
    monkeypatch.setattr(workers.time, "monotonic", lambda: now[0])
    sup = workers.WorkerSupervisor({}, "127.0.0.1", 0, 1)
    spawns: list[float] = []
    fail_next = [False]

    def spawn(slot: int) -> None:
        sup._spawned_at[slot] = now[0]
        if fail_next[0]:
            fail_next[0] = False
            raise OSError("fork: out of memory")
        spawns.append(now[0])

    monkeypatch.setattr(sup, "_spawn", spawn)
    dead = SimpleNamespace(pid=1, exitcode=1)
    for _ in range(600):  # 60 s of supervision, the worker dead at every look
        sup._respawn(0, dead)
        now[0] += 0.1
    assert 5 <= len(spawns) <= 15, len(spawns)  # not one per 0.1 s (600)
    gaps = [b - a for a, b in itertools.pairwise(spawns)]
    assert gaps[-1] >= 8 and max(gaps) <= workers.MAX_RESTART_DELAY + 0.2
    fail_next[0] = True
    now[0] += 100  # long after: a spawn that fails is retried, nothing raises
    sup._respawn(0, dead)
    now[0] += workers.MIN_RESTART_DELAY + 0.1
    sup._respawn(0, dead)
    assert spawns[-1] == now[0]
