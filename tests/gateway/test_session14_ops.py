"""Session 14: the gateway's rate-limit store and audit sink as `serve` and `gateway serve`
choose them.

- ``RINGFENCE_REDIS_URL`` alone left every gateway on in-memory limits (per process, so not
  the exact limits across workers that the threat model promises); the gateway now falls back
  to it when ``RINGFENCE_GATEWAY_REDIS_URL`` is unset, says at start which store it uses, and
  warns when several workers count in memory.
- A standalone gateway with neither NATS nor an audit file kept its audit events in memory and
  lost them on exit; it now writes them to ``<data_dir>/gateway-audit.jsonl`` (0600).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from limits.aio.storage import MemoryStorage, RedisStorage
from typer.testing import CliRunner

from ringfence.cli.app import app
from ringfence.core.config import load_settings
from ringfence.core.errors import RingfenceError, ValidationError
from ringfence.gateway.config import GatewayConfig
from ringfence.runtime import Runtime
from tests.services import REDIS_URL

runner = CliRunner()

_OURS = (
    "RINGFENCE_REDIS_URL",
    "RINGFENCE_GATEWAY_REDIS_URL",
    "RINGFENCE_NATS_URL",
    "RINGFENCE_GATEWAY_AUDIT_FILE",
    "RINGFENCE_DATA_DIR",
    "RINGFENCE_GATEWAY_CLIENT_CA_FILE",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No Redis / NATS / audit settings from outside; whatever `serve` exports for its
    workers is undone afterwards (monkeypatch restores the recorded absence)."""
    for name in _OURS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RINGFENCE_SETTINGS_FILE", str(tmp_path / "no-settings.yaml"))
    return monkeypatch


# -- which store -----------------------------------------------------------------------------


def test_the_gateway_falls_back_to_the_shared_redis_url(clean_env: pytest.MonkeyPatch) -> None:
    from ringfence.gateway.cli import limiter_store

    clean_env.setenv("RINGFENCE_REDIS_URL", "redis://shared:6379/0")
    store = limiter_store(GatewayConfig(), load_settings())
    assert (store.url, store.source) == ("redis://shared:6379/0", "RINGFENCE_REDIS_URL")


def test_the_gateway_specific_url_and_the_option_come_first(
    clean_env: pytest.MonkeyPatch,
) -> None:
    from ringfence.gateway.cli import limiter_store

    clean_env.setenv("RINGFENCE_REDIS_URL", "redis://shared:6379/0")
    clean_env.setenv("RINGFENCE_GATEWAY_REDIS_URL", "redis://gw:6379/1")
    settings = load_settings()
    assert limiter_store(GatewayConfig(), settings).source == "RINGFENCE_GATEWAY_REDIS_URL"
    assert limiter_store(GatewayConfig(), settings).url == "redis://gw:6379/1"
    chosen = limiter_store(GatewayConfig(), settings, "redis://cli:6379/2")
    assert (chosen.url, chosen.source) == ("redis://cli:6379/2", "--redis-url")


def test_without_any_url_the_limits_are_in_memory(clean_env: pytest.MonkeyPatch) -> None:
    from ringfence.gateway.cli import limiter_store

    store = limiter_store(GatewayConfig(), load_settings())
    assert store.url is None and "in memory" in store.describe()


def test_a_url_that_is_not_redis_is_one_clear_error_without_its_password(
    clean_env: pytest.MonkeyPatch,
) -> None:
    from ringfence.gateway.cli import limiter_store

    clean_env.setenv("RINGFENCE_REDIS_URL", "http://user:hunter2@cache:6379/0")
    with pytest.raises(ValidationError) as err:
        limiter_store(GatewayConfig(), load_settings())
    assert "RINGFENCE_REDIS_URL" in str(err.value) and "redis://" in str(err.value)
    assert "hunter2" not in str(err.value)


def test_the_shown_url_has_no_credentials() -> None:
    from ringfence.gateway.cli import shown_redis_url

    assert shown_redis_url("redis://u:s3cret@cache:6380/2") == "redis://cache:6380/2"
    assert shown_redis_url("rediss://:s3cret@[::1]:6379/0?x=s3cret") == "rediss://[::1]:6379/0"


# -- ringfence serve ------------------------------------------------------------------------


def _run_serve(monkeypatch: pytest.MonkeyPatch, rt: Runtime) -> tuple[Any, list[Any]]:
    """`ringfence serve` up to the point where it would run its servers: (result, servers)."""
    from ringfence.cli import serve as serve_module

    seen: list[Any] = []

    async def no_run(servers: list[Any]) -> None:
        seen.extend(servers)

    monkeypatch.setattr(serve_module, "_run_all", no_run)
    monkeypatch.setenv("RINGFENCE_AUDIT_ANCHOR_SECONDS", "0")
    monkeypatch.setenv("RINGFENCE_RESPOND_WATCH_SECONDS", "0")
    monkeypatch.setenv("RINGFENCE_MASTER_KEY_FILE", str(rt.settings.data_dir / "master.key"))
    result = runner.invoke(app, ["serve", "--data-dir", str(rt.settings.data_dir)])
    return result, seen


def test_ringfence_serve_uses_the_shared_redis_for_its_gateway(
    gw_runtime: Runtime, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("RINGFENCE_REDIS_URL", REDIS_URL)
    result, servers = _run_serve(clean_env, gw_runtime)
    assert result.exit_code == 0, result.output
    gateway = servers[1].config.app
    assert isinstance(gateway.limiter.storage, RedisStorage)
    assert "gateway rate limits: Redis" in result.output
    assert "from RINGFENCE_REDIS_URL" in result.output


def test_ringfence_serve_says_when_its_limits_are_in_memory(
    gw_runtime: Runtime, clean_env: pytest.MonkeyPatch
) -> None:
    result, servers = _run_serve(clean_env, gw_runtime)
    assert result.exit_code == 0, result.output
    assert isinstance(servers[1].config.app.limiter.storage, MemoryStorage)
    assert "gateway rate limits: in memory" in result.output


# -- ringfence gateway serve ----------------------------------------------------------------


def _gateway_serve(
    monkeypatch: pytest.MonkeyPatch, rt: Runtime, *args: str
) -> tuple[Any, dict[str, Any]]:
    from ringfence.gateway import workers

    seen: dict[str, Any] = {}

    class Recorder:
        def __init__(self, options: dict[str, Any], *a: Any, **kw: Any) -> None:
            seen["options"] = options
            # what the workers will read: the environment as the supervisor leaves it
            seen["worker_redis_url"] = os.environ.get("RINGFENCE_GATEWAY_REDIS_URL")

        def run(self) -> int:
            return 0

    monkeypatch.setattr(workers, "WorkerSupervisor", Recorder)
    result = runner.invoke(
        app, ["gateway", "serve", *args, "--data-dir", str(rt.settings.data_dir)]
    )
    return result, seen


def test_gateway_serve_keeps_the_gateway_specific_url_over_the_shared_one(
    gw_runtime: Runtime, clean_env: pytest.MonkeyPatch
) -> None:
    # before: the shared RINGFENCE_REDIS_URL overwrote the gateway's own setting
    clean_env.setenv("RINGFENCE_REDIS_URL", "redis://shared:6379/0")
    clean_env.setenv("RINGFENCE_GATEWAY_REDIS_URL", "redis://gw:6379/1")
    result, seen = _gateway_serve(clean_env, gw_runtime)
    assert result.exit_code == 0, result.output
    assert seen["worker_redis_url"] == "redis://gw:6379/1"
    assert "rate limits: Redis redis://gw:6379/1 (from RINGFENCE_GATEWAY_REDIS_URL" in (
        result.output
    )


def test_gateway_serve_warns_when_several_workers_count_in_memory(
    gw_runtime: Runtime, clean_env: pytest.MonkeyPatch
) -> None:
    result, seen = _gateway_serve(clean_env, gw_runtime, "--workers", "3")
    assert result.exit_code == 0, result.output
    assert seen["worker_redis_url"] is None
    out = " ".join(result.output.split())
    assert "rate limits: in memory" in out
    assert "warning: 3 workers with in-memory rate limits" in out
    assert "RINGFENCE_REDIS_URL" in out
    # one worker in memory is exact for that one process: no warning
    result, _ = _gateway_serve(clean_env, gw_runtime, "--workers", "1")
    assert result.exit_code == 0 and "warning" not in result.output


def test_gateway_serve_names_its_audit_file_and_makes_it_private(
    gw_runtime: Runtime, clean_env: pytest.MonkeyPatch
) -> None:
    path = gw_runtime.settings.data_dir / "gateway-audit.jsonl"
    path.write_bytes(b"")
    path.chmod(0o644)
    result, _ = _gateway_serve(clean_env, gw_runtime)
    assert result.exit_code == 0, result.output
    assert "audit events: JSONL file" in result.output and "gateway-audit.jsonl" in result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_gateway_serve_refuses_an_audit_file_it_cannot_write(
    gw_runtime: Runtime, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    clean_env.setenv("RINGFENCE_GATEWAY_AUDIT_FILE", str(blocker / "audit.jsonl"))
    result, seen = _gateway_serve(clean_env, gw_runtime)
    assert isinstance(result.exception, RingfenceError)
    assert "cannot write the gateway audit file" in str(result.exception)
    assert "options" not in seen  # nothing started


# -- the worker's gateway (asgi_app) --------------------------------------------------------


def _worker_env(monkeypatch: pytest.MonkeyPatch, rt: Runtime) -> Path:
    data_dir = rt.settings.data_dir
    monkeypatch.setenv("RINGFENCE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("RINGFENCE_MASTER_KEY_FILE", str(data_dir / "master.key"))
    monkeypatch.setenv("RINGFENCE_GATEWAY_DLP_ENGINE", "builtin")
    return data_dir


async def test_a_worker_falls_back_to_the_shared_redis_url(
    gw_runtime: Runtime, clean_env: pytest.MonkeyPatch
) -> None:
    from ringfence.gateway.cli import asgi_app

    _worker_env(clean_env, gw_runtime)
    clean_env.setenv("RINGFENCE_REDIS_URL", REDIS_URL)
    gw = asgi_app()
    try:
        assert isinstance(gw.limiter.storage, RedisStorage)
    finally:
        await gw.shutdown()


async def test_a_standalone_gateway_writes_its_audit_events_to_a_private_file(
    gw_runtime: Runtime, clean_env: pytest.MonkeyPatch
) -> None:
    from ringfence.gateway.cli import asgi_app

    data_dir = _worker_env(clean_env, gw_runtime)
    gw = asgi_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gw), base_url="http://g") as c:
        assert (await c.get("/crm/contacts")).status_code == 401
        assert (await c.get("/nowhere")).status_code in (401, 404)
    await gw.shutdown()
    path = data_dir / "gateway-audit.jsonl"
    lines = [json.loads(line) for line in path.read_bytes().splitlines()]
    assert [e["path_template"] for e in lines][:1] and len(lines) == 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_an_explicit_audit_file_still_wins(
    gw_runtime: Runtime, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from ringfence.gateway.cli import asgi_app

    data_dir = _worker_env(clean_env, gw_runtime)
    chosen = tmp_path / "audit" / "events.jsonl"
    clean_env.setenv("RINGFENCE_GATEWAY_AUDIT_FILE", str(chosen))
    gw = asgi_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gw), base_url="http://g") as c:
        await c.get("/crm/contacts")
    await gw.shutdown()
    assert len(chosen.read_bytes().splitlines()) == 1
    assert not (data_dir / "gateway-audit.jsonl").exists()


def test_gateway_serve_with_a_bus_names_it_and_leaves_the_spool_alone(
    gw_runtime: Runtime, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("RINGFENCE_NATS_URL", "nats://user:pw-s3cret@127.0.0.1:4222")
    result, _ = _gateway_serve(clean_env, gw_runtime)
    assert result.exit_code == 0, result.output
    assert "audit events: event bus nats://127.0.0.1:4222" in result.output
    assert "pw-s3cret" not in result.output
    assert not (gw_runtime.settings.data_dir / "gateway-audit.spool.jsonl").exists()
    assert not (gw_runtime.settings.data_dir / "gateway-audit.jsonl").exists()


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("RINGFENCE_GATEWAY_TOKEN_TTL_SECONDS", "5", "RINGFENCE_GATEWAY_TOKEN_TTL_SECONDS"),
        ("RINGFENCE_GATEWAY_ASSERTION_AUDIENCE", "any", "RINGFENCE_GATEWAY_ASSERTION_AUDIENCE"),
        ("RINGFENCE_GATEWAY_TRUSTED_PROXIES", "not json", "RINGFENCE_GATEWAY_TRUSTED_PROXIES"),
    ],
)
def test_a_bad_gateway_setting_is_one_line_naming_it(
    gw_runtime: Runtime, clean_env: pytest.MonkeyPatch, name: str, value: str, problem: str
) -> None:
    # before: "internal error (ValidationError)", naming nothing
    clean_env.setenv(name, value)
    result, seen = _gateway_serve(clean_env, gw_runtime)
    assert isinstance(result.exception, RingfenceError), result.output
    assert problem in str(result.exception) and "options" not in seen
    result, _ = _run_serve(clean_env, gw_runtime)
    assert isinstance(result.exception, RingfenceError), result.output
    assert problem in str(result.exception)


@pytest.mark.parametrize("claim", ["integration_id", "client_id", "iss"])
def test_a_client_cannot_register_a_claim_the_gateway_writes_itself(
    gw_runtime: Runtime, claim: str
) -> None:
    # integration_id was accepted: tokens overwrote it, API-key requests carried it as given
    r = runner.invoke(
        app,
        [
            "gateway",
            "client",
            "create",
            "hr-to-crm",
            "-s",
            "crm.read",
            "--claim",
            f"{claim}=someone-else",
            "--data-dir",
            str(gw_runtime.settings.data_dir),
        ],
    )
    assert isinstance(r.exception, RingfenceError) and claim in str(r.exception)


def test_serve_warns_when_redis_does_not_answer_at_start(
    gw_runtime: Runtime, clean_env: pytest.MonkeyPatch
) -> None:
    from tests.gateway.upstream import free_port

    dead = f"redis://:pw-s3cret@127.0.0.1:{free_port()}/0"
    result, seen = _gateway_serve(clean_env, gw_runtime, "--redis-url", dead)
    assert result.exit_code == 0, result.output  # not a refusal: Redis may come up later
    out = " ".join(result.output.split())
    assert "does not answer now (ConnectionError)" in out and "503" in out
    assert "pw-s3cret" not in result.output and seen["options"]
    clean_env.setenv("RINGFENCE_REDIS_URL", dead)
    result, _ = _run_serve(clean_env, gw_runtime)
    assert "does not answer now" in " ".join(result.output.split())
    # a Redis that answers: no warning
    result, _ = _gateway_serve(clean_env, gw_runtime, "--redis-url", REDIS_URL)
    assert result.exit_code == 0 and "does not answer" not in result.output
