"""Local TLS: a loopback-only CA whose key is never written, renewed before expiry."""

from __future__ import annotations

import ipaddress
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from agent.localtls import ca as tls


def test_ca_is_name_constrained_to_loopback(tmp_path: Path) -> None:
    files = tls.ensure(tmp_path / "tls")
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    constraints = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    assert set(constraints.value.permitted_subtrees or []) == {
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.IPv4Network("127.0.0.0/8")),
        x509.IPAddress(ipaddress.IPv6Network("::1/128")),
    }
    basic = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert basic.ca and basic.path_length == 0


def test_server_certificate_verifies_with_openssl_against_the_ca(tmp_path: Path) -> None:
    files = tls.ensure(tmp_path / "tls")
    leaf = x509.load_pem_x509_certificates(files.server_cert.read_bytes())[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert {str(a) for a in san.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    leaf_path = tmp_path / "leaf.pem"
    leaf_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    for name_check in (["-verify_hostname", "localhost"], ["-verify_ip", "127.0.0.1"]):
        done = subprocess.run(
            ["openssl", "verify", "-CAfile", str(files.ca_cert), *name_check, str(leaf_path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_ca_key_is_not_on_disk_and_the_server_key_is_private(tmp_path: Path) -> None:
    files = tls.ensure(tmp_path / "tls")
    ca_public = x509.load_pem_x509_certificate(files.ca_cert.read_bytes()).public_key()
    keys = []
    for path in files.directory.iterdir():
        data = path.read_bytes()
        if b"PRIVATE KEY" in data:
            keys.append(serialization.load_pem_private_key(data, None))
    assert len(keys) == 1, "only the server key is stored"
    assert keys[0].public_key() != ca_public
    assert stat.S_IMODE(files.server_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(files.directory.stat().st_mode) == 0o700


def test_certificate_is_reused_then_renewed_near_expiry(tmp_path: Path) -> None:
    files = tls.ensure(tmp_path / "tls")
    first = files.server_cert.read_bytes()
    assert tls.ensure(tmp_path / "tls").server_cert.read_bytes() == first
    leaf = x509.load_pem_x509_certificates(first)[0]
    near_end = leaf.not_valid_after_utc - timedelta(days=10)
    assert tls.needs_renewal(files, near_end)
    tls.ensure(tmp_path / "tls", near_end)
    renewed = x509.load_pem_x509_certificates(files.server_cert.read_bytes())[0]
    assert renewed.not_valid_after_utc > leaf.not_valid_after_utc


def test_damaged_files_are_replaced(tmp_path: Path) -> None:
    files = tls.ensure(tmp_path / "tls")
    files.server_key.write_text("garbage")
    assert tls.needs_renewal(files, datetime.now(UTC))
    tls.ensure(files.directory)
    tls.server_context(files)  # loads without error


def test_a_key_that_is_not_the_certificates_is_replaced(tmp_path: Path) -> None:
    files = tls.ensure(tmp_path / "tls")
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    files.server_key.write_bytes(other)
    assert tls.needs_renewal(files, datetime.now(UTC))
    tls.ensure(files.directory)
    tls.server_context(files)  # loads without error


def test_renewal_is_due_exactly_when_the_certificate_says(tmp_path: Path) -> None:
    # The check reads the end date from the DER itself (an idle agent has not loaded
    # cryptography): the same date, to the second, in both of RFC 5280's forms (UTCTime
    # until 2049, GeneralizedTime from 2050).
    for now in (datetime(2026, 1, 1, tzinfo=UTC), datetime(2049, 6, 1, tzinfo=UTC)):
        files = tls.TlsFiles(tmp_path / str(now.year))
        tls.issue(files, now)
        leaf = x509.load_pem_x509_certificates(files.server_cert.read_bytes())[0]
        due = leaf.not_valid_after_utc - tls.RENEW_BEFORE
        assert not tls.needs_renewal(files, due - timedelta(seconds=1))
        assert tls.needs_renewal(files, due + timedelta(seconds=1))


async def test_running_server_serves_the_renewed_certificate(tmp_path: Path) -> None:
    import asyncio
    import ssl

    files = tls.ensure(tmp_path / "tls")
    context = tls.server_context(files)
    old_leaf = x509.load_pem_x509_certificates(files.server_cert.read_bytes())[0]

    async def handle(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]

    async def served_serial() -> int:
        # Which certificate is served matters here, not whether it is valid today: the
        # renewal below is simulated at a future date.
        client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client.check_hostname = False
        client.verify_mode = ssl.CERT_NONE
        _reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client)
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        writer.close()
        return x509.load_der_x509_certificate(der).serial_number

    try:
        assert await served_serial() == old_leaf.serial_number
        assert not tls.renew_if_needed(files, context)
        near_end = old_leaf.not_valid_after_utc - timedelta(days=5)
        assert tls.renew_if_needed(files, context, near_end)
        new_leaf = x509.load_pem_x509_certificates(files.server_cert.read_bytes())[0]
        assert new_leaf.serial_number != old_leaf.serial_number
        assert await served_serial() == new_leaf.serial_number
    finally:
        server.close()
        await server.wait_closed()
