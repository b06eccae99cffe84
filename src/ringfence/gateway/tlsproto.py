"""The gateway's HTTP protocol over TLS, handing the verified client certificate to the app.

uvicorn verifies client certificates at the TLS layer (``--ssl-ca-certs``, CERT_REQUIRED) but
does not expose them to the application. This subclass adds the ASGI TLS extension
(``scope["extensions"]["tls"]["client_cert_chain"]``, PEM) plus the certificate's RFC 8705
SHA-256 thumbprint, computed once per connection, so ``tls_client_auth`` clients and
certificate-bound tokens work with direct TLS termination. Everything else is the plain
protocol (``httpproto``). Never logs the certificate.
"""

from __future__ import annotations

import asyncio
import ssl

from ringfence.gateway.httpproto import GatewayHttpToolsProtocol
from ringfence.gateway.tokens import cert_thumbprint

THUMBPRINT_KEY = "ringfence_x5t#S256"


class ClientCertHttpToolsProtocol(GatewayHttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if der:
            self.extensions = {
                "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)],
                THUMBPRINT_KEY: cert_thumbprint(der),
            }
