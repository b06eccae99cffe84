"""Auth review (session 12): a private_key_jwt client's JWKS holds public keys only.

The old check matched each parsed key back to its JSON by ``kid``; a second key without a
``kid`` (or sharing one) was never looked at, so a private key (``d``) pasted after a public
one was stored in the database in plaintext. Weak RSA keys and curves no allowed algorithm
uses were stored too.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from ringfence.core.errors import ValidationError
from ringfence.gateway.clients import create_client
from ringfence.runtime import Runtime


def _ec(private: bool = False, curve: ec.EllipticCurve | None = None) -> dict[str, Any]:
    key = ec.generate_private_key(curve or ec.SECP256R1())
    jwk: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(key if private else key.public_key()))
    return jwk


def _rsa(bits: int) -> dict[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    return jwk


def _create(rt: Runtime, keys: list[Any]) -> None:
    create_client(
        rt.store,
        rt.clock,
        integration="hr-to-crm",
        name="pkjwt",
        scopes=["crm.read"],
        auth_method="private_key_jwt",
        jwks={"keys": keys},
    )


@pytest.mark.parametrize(
    "keys",
    [
        pytest.param([_ec(), _ec(private=True)], id="private-key-without-kid-after-a-public-one"),
        pytest.param(
            [{**_ec(), "kid": "k"}, {**_ec(private=True), "kid": "k"}], id="private-key-same-kid"
        ),
        pytest.param([_ec(), {"kty": "oct", "k": "c2VjcmV0"}], id="symmetric-key-after-a-good-one"),
        pytest.param([_rsa(1024)], id="rsa-1024"),
        pytest.param([_ec(curve=ec.SECP384R1())], id="p-384"),
        pytest.param([{**_ec(), "alg": "HS256"}], id="hs256-alg"),
        pytest.param(["not a key"], id="not-an-object"),
    ],
)
def test_a_jwks_with_anything_but_usable_public_keys_is_refused(
    gw_runtime: Runtime, keys: list[Any]
) -> None:
    with pytest.raises(ValidationError):
        _create(gw_runtime, keys)


def test_public_ec_and_rsa_keys_are_accepted(gw_runtime: Runtime) -> None:
    _create(gw_runtime, [{**_ec(), "kid": "e"}, {**_rsa(2048), "kid": "r", "alg": "PS256"}])
