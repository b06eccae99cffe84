"""uvicorn HTTP protocol that hands the verified TLS client certificate to the gateway.

uvicorn verifies client certificates at the TLS layer (``--ssl-ca-certs``, CERT_REQUIRED) but
does not expose them to the application. This subclass adds the ASGI TLS extension
(``scope["extensions"]["tls"]["client_cert_chain"]``, PEM) plus the certificate's RFC 8705
SHA-256 thumbprint, computed once per connection, so ``tls_client_auth`` clients and
certificate-bound tokens work with direct TLS termination. Responses go out in one write, as
with the plain-HTTP protocol (``httpproto``). Never logs the certificate.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from ringfence.gateway.httpproto import GatewayHttpToolsProtocol
from ringfence.gateway.tokens import cert_thumbprint

THUMBPRINT_KEY = "ringfence_x5t#S256"


class ClientCertHttpToolsProtocol(GatewayHttpToolsProtocol):
    _tls_extension: dict[str, Any] | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._tls_extension = None
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if der:
            self._tls_extension = {
                "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)],
                THUMBPRINT_KEY: cert_thumbprint(der),
            }

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._tls_extension is not None:
            extensions: dict[str, Any] = {"tls": self._tls_extension}
            self.scope["extensions"] = extensions
