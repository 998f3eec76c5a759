"""Writing keys and certificates onto a token: provisioning for the demo, tests and benchmarks.

Keys are generated on the token, sensitive and non-extractable, as a CA's
enrolment would leave them on a USB token. The agent itself never writes to tokens.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

import pkcs11
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters
from pkcs11.util.rsa import encode_rsa_public_key

from agent.algorithms import KeyType

_P256 = "1.2.840.10045.3.1.7"


def _rsa_spki(pkcs1_der: bytes) -> bytes:
    """Wrap a PKCS#1 RSAPublicKey in a SubjectPublicKeyInfo."""
    from asn1crypto.keys import PublicKeyInfo, RSAPublicKey

    info = PublicKeyInfo(
        {
            "algorithm": {"algorithm": "rsa", "parameters": None},
            "public_key": RSAPublicKey.load(pkcs1_der),
        }
    )
    return bytes(info.dump())


class TokenWriter:
    """A read-write, logged-in session on one token, as a context manager."""

    def __init__(self, module: Path, token_label: str, pin: str) -> None:
        self._module = module
        self._label = token_label
        self._pin = pin
        self._session: Any = None

    def __enter__(self) -> TokenWriter:
        token = pkcs11.lib(str(self._module)).get_token(token_label=self._label)
        self._session = token.open(rw=True, user_pin=self._pin)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._session.close()

    def generate_key_pair(self, key_id: bytes, key_type: KeyType, label: str) -> bytes:
        """Generate RSA-2048 or EC P-256 on the token; return the public key as SPKI DER."""
        private_template = {
            pkcs11.Attribute.SENSITIVE: True,
            pkcs11.Attribute.EXTRACTABLE: False,
            pkcs11.Attribute.SIGN: True,
        }
        if key_type is KeyType.RSA:
            public, _ = self._session.generate_keypair(
                pkcs11.KeyType.RSA,
                2048,
                id=key_id,
                label=label,
                store=True,
                private_template=private_template,
            )
            return _rsa_spki(encode_rsa_public_key(public))
        params = self._session.create_domain_parameters(
            pkcs11.KeyType.EC,
            {pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters(_P256)},
            local=True,
        )
        public, _ = params.generate_keypair(
            id=key_id, label=label, store=True, private_template=private_template
        )
        return bytes(encode_ec_public_key(public))

    def store_certificate(
        self, certificate: x509.Certificate, label: str, key_id: bytes | None = None
    ) -> None:
        """Store an X.509 certificate object (paired with a key by ``key_id``)."""
        attributes = {
            pkcs11.Attribute.CLASS: pkcs11.ObjectClass.CERTIFICATE,
            pkcs11.Attribute.CERTIFICATE_TYPE: pkcs11.CertificateType.X_509,
            pkcs11.Attribute.TOKEN: True,
            pkcs11.Attribute.LABEL: label,
            pkcs11.Attribute.VALUE: certificate.public_bytes(serialization.Encoding.DER),
            pkcs11.Attribute.SUBJECT: certificate.subject.public_bytes(),
        }
        if key_id is not None:
            attributes[pkcs11.Attribute.ID] = key_id
        self._session.create_object(attributes)
