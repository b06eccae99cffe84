"""`ringfence serve` runs the embedded perimeter: API + gateway in one process, and stops
cleanly on SIGINT."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_runs_api_and_gateway_and_stops_on_sigint(tmp_path: Path) -> None:
    exe = str(Path(sys.executable).with_name("ringfence"))
    data = str(tmp_path / "rf")
    subprocess.run([exe, "init", "--data-dir", data], check=True, capture_output=True)
    subprocess.run(  # one audited change, so there is a chain head to anchor
        [exe, "vault", "put", "demo/secret", "--from-env", "V", "--data-dir", data],
        check=True,
        capture_output=True,
        env={**os.environ, "V": "not-a-real-secret-1234"},
    )
    # An estate with a triggered playbook, and an alert for it waiting: serve's watcher must
    # turn it into an incident by itself.
    from tests.respond.test_respond import ESTATE

    estate = tmp_path / "ringfence.yaml"
    estate.write_text(ESTATE)
    subprocess.run([exe, "apply", "-f", str(estate), "--data-dir", data], check=True)
    db = create_engine(f"sqlite:///{tmp_path / 'rf' / 'ringfence.db'}")
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO monitor_alerts (id, dedup_key, rule_id, title, severity, status, "
                "first_seen, last_seen, count, finding) VALUES ('alert-1', "
                "'rf_test_rule|crm-sync-cid', 'rf_test_rule', 't', 'critical', 'new', "
                "'2026-11-26 10:00:00.000000', '2026-11-26 10:00:00.000000', 1, '{}')"
            )
        )
    api, gw = _free_port(), _free_port()
    env = {
        **os.environ,
        "RINGFENCE_IDENTITY_LOGIN_IP_THRESHOLD": "2",
        "RINGFENCE_RESPOND_WATCH_SECONDS": "0.2",
    }
    proc = subprocess.Popen(
        [exe, "serve", "--port", str(api), "--gateway-port", str(gw), "--data-dir", data],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        health = jwks = None
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"http://127.0.0.1:{api}/api/v1/health", timeout=2)
                jwks = httpx.get(f"http://127.0.0.1:{gw}/.well-known/jwks.json", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        assert health is not None and health.json() == {"status": "ok"}
        assert jwks is not None and jwks.status_code == 200 and jwks.json()["keys"]
        # Deny by default: no route, no identity.
        probe = httpx.get(f"http://127.0.0.1:{gw}/anything", timeout=5)
        assert probe.status_code in (401, 404)
        assert "server" not in probe.headers
        # The API takes no X-Forwarded-For from an untrusted client: a sprayer cannot pick a
        # fresh address per guess to dodge the per-address sign-in budget.
        codes = [
            httpx.post(
                f"http://127.0.0.1:{api}/auth/login",
                json={"username": f"user{i}@example.com", "password": "Winter2026!!"},
                headers={"X-Forwarded-For": f"203.0.113.{i}"},
                timeout=10,
            ).status_code
            for i in range(3)
        ]
        assert codes == [401, 401, 429]
        incident = None
        while time.monotonic() < deadline and incident is None:
            with db.connect() as conn:
                incident = conn.execute(
                    text("SELECT status FROM respond_incidents WHERE trigger_alert_id='alert-1'")
                ).scalar()
            time.sleep(0.2)
        assert incident == "awaiting_approval"  # quarantined, waiting for step 4's approval
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert f"gateway on http://127.0.0.1:{gw}" in out
    # The chain head was anchored outside the database while serving.
    anchors = (Path(data) / "audit-anchors.jsonl").read_text().splitlines()
    assert anchors and all('"head"' in line for line in anchors)
