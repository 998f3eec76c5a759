"""Certificates as the plugin lists them, and the serial numbers pages name them by.

``GetAllCert`` and ``GetCertListByFilter`` answer the base64 of an XML list that portals
read with ``getElementsByTagName`` (``Certificate``, ``SerialNumber``, ``SubjectDN/CN``,
``IssuerDN/CN``, ``TimeValidTo``), and the page then names the certificate to sign with by
its ``SerialNumber``. The agent lists only the certificate the user chose to show the site
(the question of ``select_certificate``), and remembers it for that origin
(:class:`~agent.compat.certificates.GivenCertificates`), so that a later signature named by
that serial number is made with that certificate.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final
from xml.etree import ElementTree as ET

from cryptography import x509
from cryptography.x509.oid import NameOID

from agent.compat.bkav.calls import CertFilter
from agent.compat.certificates import name_part, serial_hex
from agent.protocol import b64encode

_DN_PARTS: Final = (
    ("CN", NameOID.COMMON_NAME),
    ("O", NameOID.ORGANIZATION_NAME),
    ("OU", NameOID.ORGANIZATIONAL_UNIT_NAME),
    ("L", NameOID.LOCALITY_NAME),
    ("S", NameOID.STATE_OR_PROVINCE_NAME),
    ("C", NameOID.COUNTRY_NAME),
    ("E", NameOID.EMAIL_ADDRESS),
    ("UID", NameOID.USER_ID),
)
_TIME: Final = "%Y/%m/%d %H:%M:%S"
"""The library's date format (``yyyy/mm/dd h:m:s``), in this computer's local time."""


def matches(cert: x509.Certificate, wanted: CertFilter) -> bool:
    """Whether ``cert`` passes the page's filter (fields the agent does not filter on pass)."""
    value = wanted.value.strip()
    if value in ("", "1"):
        return True
    field = wanted.field.strip().lower()
    if field == "serialnumber":
        return serial_hex(cert) == value.replace(" ", "").upper().lstrip("0")
    if field == "subjectcn":
        return value.lower() in name_part(cert.subject, NameOID.COMMON_NAME).lower()
    if field == "issuercn":
        return value.lower() in name_part(cert.issuer, NameOID.COMMON_NAME).lower()
    return True


def certificate_list(certificates: list[bytes]) -> bytes:
    """The ``<Certificates>`` document of the plugin, UTF-8."""
    root = ET.Element("Certificates")
    for der in certificates:
        cert = x509.load_der_x509_certificate(der)
        entry = ET.SubElement(root, "Certificate")
        ET.SubElement(entry, "SerialNumber").text = serial_hex(cert)
        _name(ET.SubElement(entry, "SubjectDN"), cert.subject)
        _name(ET.SubElement(entry, "IssuerDN"), cert.issuer)
        ET.SubElement(entry, "TimeValidFrom").text = _local(cert.not_valid_before_utc)
        ET.SubElement(entry, "TimeValidTo").text = _local(cert.not_valid_after_utc)
        ET.SubElement(entry, "CertificateBase64").text = b64encode(der)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document


def _name(element: ET.Element, name: x509.Name) -> None:
    for tag, oid in _DN_PARTS:
        value = name_part(name, oid)
        if value:
            ET.SubElement(element, tag).text = value


def _local(moment: datetime) -> str:
    return moment.astimezone().strftime(_TIME)
