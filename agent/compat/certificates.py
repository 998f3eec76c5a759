"""Certificates as the plugins' pages name them: the parts of a name they read, the serial
number in hex, and the certificate a serial names for each origin.

A page learns of a certificate only when the user picks one for it (``select_certificate``),
then names it by serial number in its signing calls (VNPT's ``CertificateSerial``, BKAV's
``CertificateSerialNumber``). :class:`GivenCertificates` finds only a certificate the user gave
that origin: any other serial names nothing, and the user chooses in the question.
"""

from __future__ import annotations

import re
from collections import OrderedDict

from cryptography import x509

from agent.origin import Admitted


def name_part(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    """The first value of ``oid`` (``COMMON_NAME``, ``ORGANIZATION_NAME`` …) in ``name``, or
    ``""``."""
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def serial_hex(cert: x509.Certificate) -> str:
    """The serial number as Windows and the plugins show it: upper-case hex."""
    return format(cert.serial_number, "X")


def same_serial(text: str) -> str:
    """A serial number as a page writes it, for comparison: no blanks or colons, upper case,
    no leading zeros (``"00 0a:bc"`` is ``ABC``)."""
    return re.sub(r"[\s:]", "", text).upper().lstrip("0")


class GivenCertificates:
    """The certificates the user gave each origin, by serial number, the oldest forgotten
    first past ``limit`` (not frozen: it fills as pages ask)."""

    def __init__(self, limit: int = 64) -> None:
        self._limit = limit
        self._known: OrderedDict[tuple[str, str], bytes] = OrderedDict()

    def remember(self, caller: Admitted, der: bytes) -> None:
        """The user gave ``der`` to ``caller``."""
        key = (str(caller), same_serial(serial_hex(x509.load_der_x509_certificate(der))))
        self._known[key] = der
        self._known.move_to_end(key)
        while len(self._known) > self._limit:
            self._known.popitem(last=False)

    def find(self, caller: Admitted, serial: str | None) -> bytes | None:
        """The certificate ``serial`` names for ``caller``, if the user gave it to it;
        ``None`` lets the user choose."""
        if not serial:
            return None
        return self._known.get((str(caller), same_serial(serial)))
