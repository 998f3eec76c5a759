"""An enveloped XMLDSig signature in two phases: prepare what the token signs, then finish.

Between the phases the user is asked, so :func:`prepare` builds the whole ``Signature``
element in the tree (everything but ``SignatureValue``) and returns the canonical
``SignedInfo`` the token signs; :func:`finish` writes the token's answer and serialises.

Every digest is taken over inclusive C14N 1.0 **in document context**: namespaces
declared on ancestors are part of the canonical form, which is what verifiers of
Vietnamese invoices (and xmlsec1) compute. Exclusive C14N, or canonicalizing a copy
taken out of the tree, gives other bytes and a signature nobody can verify.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from lxml import etree

from agent.algorithms import KeyType
from agent.errors import BadRequest
from agent.messages import Phrase
from agent.xml.c14n import C14N, C14N_WITH_COMMENTS, ENVELOPED_SIGNATURE, canonical
from agent.xml.models import DSIG_NS, XmlDigest
from agent.xml.parse import elements_with_id
from agent.xml.profiles import Placement

SIGNATURE_PROPERTIES_TYPE: Final = DSIG_NS + "SignatureProperties"

# SigningTime as Vietnamese invoices write it: local wall time, no zone, no fraction.
_SIGNING_TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%S"


_SIGNATURE_URIS: Final = {
    (KeyType.RSA, XmlDigest.SHA256): "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    (KeyType.RSA, XmlDigest.SHA1): "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    (KeyType.EC, XmlDigest.SHA256): "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    (KeyType.EC, XmlDigest.SHA1): "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1",
}


@dataclass(frozen=True)
class PreparedXml:
    """A document whose Signature waits for its value, and what the token must sign."""

    tree: Any
    """The ``lxml`` tree, holding the new ``Signature`` element (mutable: finish writes it)."""
    signature: Any
    """The new ``Signature`` element."""
    signature_id: str
    """Its Id, unique in the document."""
    key_type: KeyType
    """The certificate's key type: RSA (PKCS#1 v1.5) or EC (ECDSA, value r||s)."""
    digest_algorithm: XmlDigest
    """The hash the signature method uses."""
    signature_method: str
    """The ``SignatureMethod`` algorithm written in ``SignedInfo``."""
    to_be_signed: bytes
    """The canonical ``SignedInfo``: the data the token signs (with ``digest_algorithm``)."""
    to_be_signed_digest: bytes
    """Its digest, for tokens that sign a precomputed hash."""
    key_size: int
    """RSA modulus or EC field size in bits, to check the length of the value."""


def prepare(
    tree: Any,
    placement: Placement,
    certificate: x509.Certificate,
    *,
    digest: str = "SHA-256",
    with_comments: bool = False,
    signing_time: datetime,
) -> PreparedXml:
    """Build the ``Signature`` in ``placement.parent`` and return what the token must sign.

    ``signing_time`` is written as its own wall-clock time (``yyyy-MM-ddTHH:mm:ss``): the
    caller passes it in the signer's local zone. ``with_comments`` selects C14N
    ``#WithComments`` for ``SignedInfo``; references by ``#Id`` exclude comments either
    way, as XMLDSig defines them.
    """
    algorithm = XmlDigest.parse(digest)
    key_type, key_size = _key_of(certificate)
    method = _SIGNATURE_URIS[(key_type, algorithm)]
    c14n = C14N_WITH_COMMENTS if with_comments else C14N

    # The enveloped-signature transform removes only this Signature from the signed
    # element, so its digest is that of the element before the Signature exists.
    data_digest = algorithm.hash(canonical(placement.signed))

    signature_id = _unique_id(tree, placement.id_hint)
    properties_id = _unique_id(tree, f"{signature_id}-SigningTime", taken={signature_id})
    signature = _signature_skeleton(
        signature_id=signature_id,
        properties_id=properties_id,
        c14n=c14n,
        method=method,
        algorithm=algorithm,
        signed_id=placement.signed_id,
        certificate=certificate,
    )
    time_text = signing_time.strftime(_SIGNING_TIME_FORMAT)
    _find(signature, "Object/SignatureProperties/SignatureProperty/SigningTime").text = time_text
    placement.parent.append(signature)

    references = signature.findall(f"{{{DSIG_NS}}}SignedInfo/{{{DSIG_NS}}}Reference")
    references[0].find(f"{{{DSIG_NS}}}DigestValue").text = _b64(data_digest)
    # Digested where it stands: the Signature's default namespace and every namespace
    # declared above it are part of the properties' canonical form.
    properties = _find(signature, "Object/SignatureProperties")
    references[1].find(f"{{{DSIG_NS}}}DigestValue").text = _b64(
        algorithm.hash(canonical(properties))
    )

    signed_info = canonical(_find(signature, "SignedInfo"), with_comments=with_comments)
    return PreparedXml(
        tree=tree,
        signature=signature,
        signature_id=signature_id,
        key_type=key_type,
        digest_algorithm=algorithm,
        signature_method=method,
        to_be_signed=signed_info,
        to_be_signed_digest=algorithm.hash(signed_info),
        key_size=key_size,
    )


def finish(prepared: PreparedXml, signature_value: bytes) -> bytes:
    """Write ``signature_value`` (RSA: PKCS#1 v1.5; EC: r||s or DER) and return the document.

    The document is serialised in UTF-8 with an XML declaration saying so; the
    declaration and the whitespace around the root are not part of any digest.
    """
    value = signature_value
    if prepared.key_type is KeyType.EC:
        value = _ecdsa_raw(signature_value, prepared.key_size)
    _find(prepared.signature, "SignatureValue").text = _b64(value)
    declaration = '<?xml version="1.0" encoding="UTF-8"'
    if prepared.tree.docinfo.standalone:
        declaration += ' standalone="yes"'
    body: bytes = etree.tostring(prepared.tree, encoding="UTF-8", xml_declaration=False)
    return (declaration + "?>\n").encode() + body


def _signature_skeleton(
    *,
    signature_id: str,
    properties_id: str,
    c14n: str,
    method: str,
    algorithm: XmlDigest,
    signed_id: str,
    certificate: x509.Certificate,
) -> Any:
    def sub(parent: Any, name: str, **attributes: str) -> Any:
        return etree.SubElement(parent, f"{{{DSIG_NS}}}{name}", attributes)

    signature = etree.Element(
        f"{{{DSIG_NS}}}Signature", {"Id": signature_id}, nsmap={None: DSIG_NS}
    )
    signed_info = sub(signature, "SignedInfo")
    sub(signed_info, "CanonicalizationMethod", Algorithm=c14n)
    sub(signed_info, "SignatureMethod", Algorithm=method)
    data = sub(signed_info, "Reference", URI=f"#{signed_id}")
    sub(sub(data, "Transforms"), "Transform", Algorithm=ENVELOPED_SIGNATURE)
    sub(data, "DigestMethod", Algorithm=algorithm.uri)
    sub(data, "DigestValue")
    time = sub(signed_info, "Reference", Type=SIGNATURE_PROPERTIES_TYPE, URI=f"#{properties_id}")
    sub(time, "DigestMethod", Algorithm=algorithm.uri)
    sub(time, "DigestValue")
    sub(signature, "SignatureValue")
    x509_data = sub(sub(signature, "KeyInfo"), "X509Data")
    sub(x509_data, "X509SubjectName").text = certificate.subject.rfc4514_string()
    sub(x509_data, "X509Certificate").text = _b64(
        certificate.public_bytes(serialization.Encoding.DER)
    )
    properties = sub(sub(signature, "Object"), "SignatureProperties", Id=properties_id)
    sub(sub(properties, "SignatureProperty", Target=f"#{signature_id}"), "SigningTime")
    return signature


def _find(signature: Any, path: str) -> Any:
    return signature.find("/".join(f"{{{DSIG_NS}}}{step}" for step in path.split("/")))


def _unique_id(tree: Any, base: str, *, taken: frozenset[str] | set[str] = frozenset()) -> str:
    candidate, n = base, 1
    while candidate in taken or elements_with_id(tree, candidate):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _key_of(certificate: x509.Certificate) -> tuple[KeyType, int]:
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return KeyType.RSA, key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return KeyType.EC, key.curve.key_size
    raise BadRequest(Phrase.of("bad_xml_key", kind=type(key).__name__))


def _ecdsa_raw(value: bytes, key_size: int) -> bytes:
    # XMLDSig wants r||s, each as long as the field; PKCS#11 gives that, a software key
    # or some middleware gives DER, which is converted here.
    width = (key_size + 7) // 8
    if len(value) == 2 * width:
        return value
    r, s = decode_dss_signature(value)
    return r.to_bytes(width, "big") + s.to_bytes(width, "big")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
