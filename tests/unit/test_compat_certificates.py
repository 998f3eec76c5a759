"""Certificates as every layer names them to pages (agent/compat/certificates.py): the parts of
a name, the serial in hex, and the certificate a serial names for each origin."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from agent.compat.certificates import GivenCertificates, name_part, same_serial, serial_hex
from agent.origin import Admitted, parse_origin
from agent.testing.softhsm import TestCa, vn_name

PAGE = Admitted(parse_origin("https://vpdt.hue.gov.vn"), via_wildcard=False)
OTHER = Admitted(parse_origin("https://other.gov.vn"), via_wildcard=False)


@pytest.fixture(scope="module")
def ca() -> TestCa:
    return TestCa.create("Kyso Test CA")


def issued(ca: TestCa, name: str = "Nguyễn Văn An") -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    return ca.issue(key.public_key(), vn_name(name, "Sở Tài chính"))


def as_page_writes_it(serial: str) -> str:
    """Lower case, leading zeros, a space every two digits: how a serial is copied by hand."""
    digits = ("00" + serial).lower()
    return " ".join(digits[i : i + 2] for i in range(0, len(digits), 2))


def test_name_parts_as_portals_read_them(ca: TestCa) -> None:
    cert = issued(ca)
    assert name_part(cert.subject, NameOID.COMMON_NAME) == "Nguyễn Văn An"
    assert name_part(cert.subject, NameOID.ORGANIZATION_NAME) == "Sở Tài chính"
    assert name_part(cert.issuer, NameOID.COMMON_NAME) == "Kyso Test CA"
    assert name_part(cert.subject, NameOID.EMAIL_ADDRESS) == ""


def test_the_serial_is_upper_case_hex(ca: TestCa) -> None:
    cert = issued(ca)
    serial = serial_hex(cert)
    assert int(serial, 16) == cert.serial_number
    assert serial == serial.upper() and not serial.startswith("0")


def test_serials_compare_as_pages_write_them() -> None:
    assert same_serial("00 0a:bc") == same_serial("0ABC") == same_serial("abc") == "ABC"
    assert same_serial("0A1B") != same_serial("A1B0")


def test_a_given_certificate_is_found_by_its_serial_for_that_origin_only(ca: TestCa) -> None:
    given = GivenCertificates()
    cert = issued(ca)
    der = cert.public_bytes(Encoding.DER)
    given.remember(PAGE, der)
    assert given.find(PAGE, serial_hex(cert)) == der
    assert given.find(PAGE, as_page_writes_it(serial_hex(cert))) == der
    assert given.find(OTHER, serial_hex(cert)) is None
    assert given.find(PAGE, None) is None
    assert given.find(PAGE, "") is None
    assert given.find(PAGE, serial_hex(issued(ca))) is None, "never given: the user chooses"


def test_the_oldest_given_certificate_is_forgotten_past_the_limit(ca: TestCa) -> None:
    given = GivenCertificates(limit=2)
    first, second, third = (issued(ca, f"Người ký {n}") for n in (1, 2, 3))
    for cert in (first, second, third):
        given.remember(PAGE, cert.public_bytes(Encoding.DER))
    assert given.find(PAGE, serial_hex(first)) is None
    assert given.find(PAGE, serial_hex(second)) is not None
    assert given.find(PAGE, serial_hex(third)) is not None
