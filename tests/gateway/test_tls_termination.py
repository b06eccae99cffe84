"""Direct TLS termination: uvicorn requires a CA-signed client certificate and the gateway
binds tokens to it (ASGI TLS extension from ``ClientCertHttpToolsProtocol``)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from pathlib import Path

import httpx
import jwt
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ringfence.gateway.app import build_gateway
from ringfence.gateway.clients import create_client
from ringfence.gateway.config import GatewayConfig
from ringfence.gateway.tlsproto import ClientCertHttpToolsProtocol
from ringfence.gateway.tokens import cert_thumbprint
from ringfence.gateway.workers import DispatchedServer, listening_socket
from ringfence.runtime import Runtime
from tests.gateway.test_client_auth import make_ca, make_client_cert
from tests.gateway.upstream import free_port


def _server_cert(ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return (
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.mark.parametrize("dispatched", [False, True], ids=["uvicorn", "serve-workers"])
async def test_direct_tls_with_certificate_bound_tokens(
    gw_runtime: Runtime, tmp_path: Path, dispatched: bool
) -> None:
    # serve-workers: the connection is accepted elsewhere and handed over as a file
    # descriptor (``serve --workers N``); TLS and the client certificate must work the same.
    ca_key, ca = make_ca("Gateway test CA")
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_pem, key_pem = _server_cert(ca_key, ca)
    (tmp_path / "server.pem").write_bytes(cert_pem)
    (tmp_path / "server.key").write_bytes(key_pem)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_cert = make_client_cert(ca_key, ca, key=client_key)
    (tmp_path / "client.pem").write_bytes(client_cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "client.key").write_bytes(_pem_key(client_key))
    thumb = cert_thumbprint(client_cert.public_bytes(serialization.Encoding.DER))
    client = create_client(
        gw_runtime.store,
        gw_runtime.clock,
        integration="hr-to-crm",
        name="tls",
        scopes=["crm.read"],
        auth_method="tls_client_auth",
        cert_thumbprint=thumb,
    )
    gateway = build_gateway(
        gw_runtime.store,
        gw_runtime.vault,
        clock=gw_runtime.clock,
        config=GatewayConfig(dlp_engine="builtin"),
    )
    port = free_port()
    config = uvicorn.Config(
        gateway,
        host="127.0.0.1",
        port=port,
        log_level="error",
        lifespan="on",
        http=ClientCertHttpToolsProtocol,
        ssl_certfile=str(tmp_path / "server.pem"),
        ssl_keyfile=str(tmp_path / "server.key"),
        ssl_ca_certs=str(tmp_path / "ca.pem"),
        ssl_cert_reqs=ssl.CERT_REQUIRED,
    )
    stop_dealing = threading.Event()
    if dispatched:
        listener = listening_socket("127.0.0.1", port)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        server: uvicorn.Server = DispatchedServer(config, theirs)

        def deal() -> None:
            listener.settimeout(0.1)
            while not stop_dealing.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                with conn:
                    socket.send_fds(ours, [b"c"], [conn.fileno()])

        dealer = threading.Thread(target=deal, daemon=True)
        dealer.start()
    else:
        server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        threading.Event().wait(0.01)
    try:
        ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        ctx.load_cert_chain(str(tmp_path / "client.pem"), str(tmp_path / "client.key"))
        base = f"https://127.0.0.1:{port}"
        async with httpx.AsyncClient(verify=ctx, base_url=base, timeout=10) as http:
            r = await http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials", "client_id": client.client_id},
            )
            assert r.status_code == 200, r.text
            token = r.json()["access_token"]
            claims = jwt.decode(token, options={"verify_signature": False})
            assert claims["cnf"]["x5t#S256"] == thumb
            ok = await http.get("/crm/contacts", headers={"authorization": f"Bearer {token}"})
            assert ok.status_code == 200, ok.text
        # without a client certificate the TLS handshake itself fails
        bare = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        async with httpx.AsyncClient(verify=bare, base_url=base, timeout=10) as http:
            with pytest.raises(httpx.HTTPError):
                r = await http.get("/healthz")
                r.raise_for_status()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        stop_dealing.set()
        if dispatched:
            dealer.join(timeout=10)
            listener.close()
            ours.close()
            theirs.close()
