"""What a portal sends (digests, request bodies) and independent checks of what comes back:
``cryptography`` and the ``openssl`` command."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

_HASHES = {"SHA-256": hashes.SHA256, "SHA-384": hashes.SHA384, "SHA-512": hashes.SHA512}


def digest_of(message: bytes, algorithm: str = "SHA-256") -> bytes:
    """The digest a portal would compute."""
    return hashlib.new(algorithm.replace("-", "").lower(), message).digest()


def b64(data: bytes) -> str:
    """Standard base64."""
    return base64.b64encode(data).decode()


def der(cert: x509.Certificate) -> bytes:
    """The certificate as DER, as the API carries it (base64'd) and the verifiers read it."""
    return cert.public_bytes(serialization.Encoding.DER)


def sign_body(
    digest: bytes,
    certificate: x509.Certificate | None = None,
    algorithm: str = "SHA-256",
    **extra: str,
) -> dict[str, str]:
    """What a portal posts to ``/v1/sign`` for ``digest`` (without ``certificate`` the user
    picks one; without one it is also an item of ``/v1/sign/batch``)."""
    body = {"hash": b64(digest), "hashAlgorithm": algorithm}
    if certificate is not None:
        body["certificate"] = b64(der(certificate))
    return {**body, **extra}


def verify_with_cryptography(
    cert_der: bytes, signature: bytes, digest: bytes, algorithm: str, scheme: str = "PKCS1v15"
) -> None:
    """Raise ``InvalidSignature`` unless ``signature`` over ``digest`` verifies."""
    key = x509.load_der_x509_certificate(cert_der).public_key()
    prehashed = utils.Prehashed(_HASHES[algorithm]())
    if isinstance(key, rsa.RSAPublicKey):
        pad: padding.AsymmetricPadding
        if scheme == "PSS":
            pad = padding.PSS(padding.MGF1(_HASHES[algorithm]()), padding.PSS.DIGEST_LENGTH)
        else:
            pad = padding.PKCS1v15()
        key.verify(signature, digest, pad, prehashed)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, digest, ec.ECDSA(prehashed))
    else:  # pragma: no cover
        raise TypeError(type(key))


def verify_with_openssl(
    cert_der: bytes, signature: bytes, message: bytes, algorithm: str, scheme: str = "PKCS1v15"
) -> str:
    """Verify over the original message with ``openssl dgst``; return its output."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cert = x509.load_der_x509_certificate(cert_der)
        (folder / "pub.pem").write_bytes(
            cert.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        (folder / "sig.bin").write_bytes(signature)
        (folder / "msg.bin").write_bytes(message)
        argv = [
            "openssl",
            "dgst",
            "-" + algorithm.replace("-", "").lower(),
            "-verify",
            str(folder / "pub.pem"),
            "-signature",
            str(folder / "sig.bin"),
        ]
        if scheme == "PSS":
            argv += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"]
        done = subprocess.run(
            [*argv, str(folder / "msg.bin")], capture_output=True, text=True, check=False
        )
        if done.returncode != 0 or "Verified OK" not in done.stdout:
            raise AssertionError(f"openssl refused the signature: {done.stdout}{done.stderr}")
        return done.stdout


def openssl_cms_verify(
    signature: bytes, content: bytes, ca_pem: Path, tmp: Path
) -> subprocess.CompletedProcess[str]:
    """``openssl cms -verify`` of a detached DER CMS over ``content``, trusting ``ca_pem``."""
    (tmp / "cms.der").write_bytes(signature)
    (tmp / "content.bin").write_bytes(content)
    return subprocess.run(
        [
            *("openssl", "cms", "-verify", "-binary", "-inform", "DER"),
            *("-in", str(tmp / "cms.der"), "-content", str(tmp / "content.bin")),
            *("-CAfile", str(ca_pem), "-purpose", "any", "-out", "/dev/null"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def assert_cms_verifies(signature: bytes, content: bytes, ca_pem: Path, tmp: Path) -> None:
    """``openssl cms -verify`` accepts ``signature`` over ``content``, trusting ``ca_pem``."""
    done = openssl_cms_verify(signature, content, ca_pem, tmp)
    assert done.returncode == 0, done.stderr
