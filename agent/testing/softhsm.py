"""Real SoftHSM2 tokens for the demo, the tests and the benchmarks.

A :class:`SoftHsm` is a private SoftHSM2 configuration under a directory of
its own (``SOFTHSM2_CONF`` points at it). :func:`provision` initialises a token
and generates its keys *on the token* (non-extractable, as on a real USB token),
then stores certificates issued by a software :class:`TestCa`.

Token work runs in a child process: SoftHSM reads its token directory when the
module is initialised, so the process that provisions must not be the one
that later signs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

SOFTHSM_MODULE_PATHS: Final = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
)


def find_softhsm_module() -> Path:
    """Path of libsofthsm2.so; raises ``FileNotFoundError`` with a hint."""
    for candidate in SOFTHSM_MODULE_PATHS:
        if Path(candidate).is_file():
            return Path(candidate)
    raise FileNotFoundError("SoftHSM2 is not installed (Debian/Ubuntu: apt-get install softhsm2)")


@dataclass(frozen=True)
class SoftHsm:
    """A private SoftHSM2 configuration."""

    root: Path
    """Directory holding ``softhsm2.conf`` and ``tokens/``."""
    module: Path = field(default_factory=find_softhsm_module)
    """The SoftHSM2 PKCS#11 module."""

    @property
    def conf(self) -> Path:
        """The configuration file."""
        return self.root / "softhsm2.conf"

    @property
    def token_dir(self) -> Path:
        """Where SoftHSM keeps its tokens."""
        return self.root / "tokens"

    def environ(self) -> dict[str, str]:
        """Environment for a process that should see these tokens."""
        return {**os.environ, "SOFTHSM2_CONF": str(self.conf)}

    def create(self) -> SoftHsm:
        """Write the configuration (idempotent)."""
        self.token_dir.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(
            f"directories.tokendir = {self.token_dir}\n"
            "objectstore.backend = file\n"
            "log.level = ERROR\n"
            "slots.removable = false\n"
        )
        return self

    def wipe(self) -> None:
        """Delete every token."""
        shutil.rmtree(self.token_dir, ignore_errors=True)
        self.token_dir.mkdir(parents=True, exist_ok=True)


def vn_name(common_name: str, organization: str = "", locality: str = "") -> x509.Name:
    """An X.509 name as Vietnamese CAs write it (UTF-8, C=VN)."""
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")]
    if locality:
        attributes.append(x509.NameAttribute(NameOID.LOCALITY_NAME, locality))
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


@dataclass(frozen=True)
class TestCa:
    """A software CA that issues the certificates stored on test tokens."""

    __test__ = False  # not a pytest test class, despite the name

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def create(cls, common_name: str = "Kyso Test CA") -> TestCa:
        """A fresh self-signed CA."""
        key = ec.generate_private_key(ec.SECP256R1())
        name = vn_name(common_name, "Kyso Agent (test)")
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    def save(self, directory: Path) -> None:
        """Write ``ca.pem`` and ``ca-key.pem`` (test material only)."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "ca.pem").write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        (directory / "ca-key.pem").write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    @classmethod
    def load(cls, directory: Path) -> TestCa:
        """Read a CA written by :meth:`save`."""
        key = serialization.load_pem_private_key((directory / "ca-key.pem").read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)  # noqa: S101
        cert = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
        return cls(key, cert)

    def issue(
        self,
        public_key: Any,
        subject: x509.Name,
        *,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        crl_url: str | None = None,
        ocsp_url: str | None = None,
        extended_key_usage: Sequence[x509.ObjectIdentifier] = (),
    ) -> x509.Certificate:
        """A signing certificate (digitalSignature + nonRepudiation) for ``public_key``.

        ``crl_url`` adds a CRL distribution point and ``ocsp_url`` an OCSP access
        method (Authority Information Access), where a relying party looks for the
        certificate's revocation status. ``extended_key_usage`` adds a critical EKU
        extension (``TIME_STAMPING`` for a TSA, as RFC 3161 requires;
        ``OCSP_SIGNING`` for a delegated OCSP responder).
        """
        now = datetime.now(UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - timedelta(days=1))
            .not_valid_after(not_after or now + timedelta(days=730))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, True, False, False, False, False, False, False, False),
                critical=True,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
        )
        if crl_url:
            point = x509.DistributionPoint(
                [x509.UniformResourceIdentifier(crl_url)], None, None, None
            )
            builder = builder.add_extension(x509.CRLDistributionPoints([point]), False)
        if ocsp_url:
            access = x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
            )
            builder = builder.add_extension(x509.AuthorityInformationAccess([access]), False)
        if extended_key_usage:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage(list(extended_key_usage)), critical=True
            )
        return builder.sign(self.key, hashes.SHA256())


@dataclass(frozen=True)
class KeySpec:
    """One key pair to generate on a token, with its certificate."""

    key_id: str
    """CKA_ID, hex."""
    key_type: str
    """``RSA`` (2048 bit) or ``EC`` (P-256)."""
    common_name: str
    """Holder's name (Vietnamese, UTF-8)."""
    organization: str = ""
    """Holder's organisation."""
    valid_days: int = 730
    """Validity from yesterday; negative makes an expired certificate."""
    crl_url: str = ""
    """CRL distribution point written into the certificate (none when empty)."""
    ocsp_url: str = ""
    """OCSP responder written into the certificate's AIA (none when empty)."""


@dataclass(frozen=True)
class TokenSpec:
    """A token to initialise."""

    label: str
    user_pin: str
    so_pin: str = "12345678"
    keys: tuple[KeySpec, ...] = ()


@dataclass(frozen=True)
class ProvisionedKey:
    """What :func:`provision` made for one :class:`KeySpec`."""

    key_id: str
    certificate: x509.Certificate


def init_token_arguments(spec: TokenSpec) -> list[str]:
    """``softhsm2-util``'s arguments that initialise the first free slot's token to ``spec``."""
    return [
        "--init-token",
        "--free",
        "--label",
        spec.label,
        "--so-pin",
        spec.so_pin,
        "--pin",
        spec.user_pin,
    ]


def generation_request(module: str, ca_dir: str, spec: TokenSpec) -> dict[str, Any]:
    """What :func:`generate_on_token` is given: the module and CA directory as the process
    that generates sees them (the Windows tests pass Windows paths)."""
    return {
        "module": module,
        "ca_dir": ca_dir,
        "label": spec.label,
        "pin": spec.user_pin,
        "keys": [k.__dict__ for k in spec.keys],
    }


def provision(hsm: SoftHsm, ca: TestCa, ca_dir: Path, spec: TokenSpec) -> list[ProvisionedKey]:
    """Initialise a token and generate its keys and certificates, in a child process."""
    ca.save(ca_dir)
    subprocess.run(
        ["softhsm2-util", *init_token_arguments(spec)],
        env=hsm.environ(),
        check=True,
        capture_output=True,
    )
    request = generation_request(str(hsm.module), str(ca_dir), spec)
    done = subprocess.run(
        [sys.executable, "-m", "agent.testing.softhsm"],
        input=json.dumps(request),
        env=hsm.environ(),
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(done.stdout)
    return [
        ProvisionedKey(r["key_id"], x509.load_pem_x509_certificate(r["certificate"].encode()))
        for r in result
    ]


def new_token(
    root: Path, spec: TokenSpec, ca: TestCa | None = None
) -> tuple[SoftHsm, list[ProvisionedKey]]:
    """A SoftHSM of its own under ``root/hsm`` holding one token made to ``spec``, its
    certificates issued by ``ca`` (a fresh :class:`TestCa` by default), saved in ``root/ca``."""
    hsm = SoftHsm(root / "hsm").create()
    return hsm, provision(hsm, ca or TestCa.create(), root / "ca", spec)


def generate_on_token(request: dict[str, Any]) -> list[dict[str, str]]:
    """Generate the keys of ``request`` on its token and store their certificates (the child
    of :func:`provision`; the Windows tests call it in the installed agent's Python)."""
    from agent.algorithms import KeyType
    from agent.token.provision import TokenWriter

    ca = TestCa.load(Path(request["ca_dir"]))
    made = []
    with TokenWriter(Path(request["module"]), request["label"], request["pin"]) as writer:
        writer.store_certificate(ca.cert, "CA")
        for key in request["keys"]:
            key_id = bytes.fromhex(key["key_id"])
            spki = writer.generate_key_pair(key_id, KeyType(key["key_type"]), key["common_name"])
            now = datetime.now(UTC)
            days = int(key["valid_days"])
            if days >= 0:
                not_before, not_after = now - timedelta(days=1), now + timedelta(days=days)
            else:
                not_before, not_after = now + timedelta(days=days * 2), now + timedelta(days=days)
            cert = ca.issue(
                serialization.load_der_public_key(spki),
                vn_name(key["common_name"], key["organization"]),
                not_before=not_before,
                not_after=not_after,
                crl_url=key.get("crl_url") or None,
                ocsp_url=key.get("ocsp_url") or None,
            )
            writer.store_certificate(cert, key["common_name"], key_id)
            made.append(
                {
                    "key_id": key["key_id"],
                    "certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
                }
            )
    return made


if __name__ == "__main__":
    json.dump(generate_on_token(json.load(sys.stdin)), sys.stdout)
