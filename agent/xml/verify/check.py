"""The checks behind :func:`verify_xml`: every ``ds:Signature`` of a document.

For each signature it finds:

* which elements its References cover (by Id) and whether each digest still matches,
  the Reference's transforms applied in document context (enveloped-signature; inclusive
  C14N 1.0 with or without comments; exclusive C14N), all by :mod:`agent.xml.c14n`, the
  code the agent signs with;
* whether the SignatureValue verifies over the canonical SignedInfo with the key of the
  certificate in ``KeyInfo/X509Data`` (RSA with SHA-1/224/256/384/512, ECDSA with raw
  ``r||s`` as XMLDSig writes it);
* whether that certificate chains, by issuer signatures, to one of the trust roots the
  caller gives, valid now and fit for signing;
* the signing time the signer claims in the ``SignatureProperty`` aimed at the signature,
  and whether a Reference covers it (otherwise anyone could have changed it).

A broken signature is reported, never raised; only XML that cannot be parsed raises
(:func:`agent.xml.parse.parse_xml`'s error). Nothing is fetched: a Reference to anything
but the document itself is reported as unsupported, and chains are built from the
document's certificates and the given roots only. Revocation is not checked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from lxml import etree

from agent.xml import c14n
from agent.xml.models import DSIG_NS
from agent.xml.parse import elements_with_id, id_of, parse_xml
from agent.xml.verify.model import (
    ReferenceCheck,
    XmlProblem,
    XmlSignatureReport,
    XmlVerificationReport,
)

DS: Final = DSIG_NS
_NS: Final = {"ds": DS}

#: DigestMethod → hashlib name.
DIGESTS: Final[dict[str, str]] = {
    DS + "sha1": "sha1",
    "http://www.w3.org/2001/04/xmldsig-more#sha224": "sha224",
    "http://www.w3.org/2001/04/xmlenc#sha256": "sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384": "sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512": "sha512",
}

_MORE: Final = "http://www.w3.org/2001/04/xmldsig-more#"
#: SignatureMethod → (key type, hash).
SIGNATURE_METHODS: Final[dict[str, tuple[str, type[hashes.HashAlgorithm]]]] = {
    DS + "rsa-sha1": ("rsa", hashes.SHA1),
    _MORE + "rsa-sha224": ("rsa", hashes.SHA224),
    _MORE + "rsa-sha256": ("rsa", hashes.SHA256),
    _MORE + "rsa-sha384": ("rsa", hashes.SHA384),
    _MORE + "rsa-sha512": ("rsa", hashes.SHA512),
    _MORE + "ecdsa-sha1": ("ec", hashes.SHA1),
    _MORE + "ecdsa-sha256": ("ec", hashes.SHA256),
    _MORE + "ecdsa-sha384": ("ec", hashes.SHA384),
    _MORE + "ecdsa-sha512": ("ec", hashes.SHA512),
}

#: XML Schema dateTime without a zone, as many issuers write SigningTime, is read as
#: Vietnam's time (UTC+7, no daylight saving): the documents are Vietnamese.
VIETNAM_TIME: Final = timezone(timedelta(hours=7))

MAX_CHAIN: Final = 8
"""Certificates above the signer looked for before giving up on a chain."""


class _Unsupported(Exception):
    """An algorithm or URI outside what is checked (becomes a problem, never escapes)."""


def verify_xml(
    data: bytes,
    trust_roots: Iterable[bytes | x509.Certificate] = (),
    *,
    now: datetime | None = None,
) -> XmlVerificationReport:
    """Check every XMLDSig signature in ``data`` against ``trust_roots`` (DER or parsed).

    Raises what :func:`agent.xml.parse.parse_xml` raises for XML that cannot be read;
    anything wrong with a signature is in its report. ``now`` (default: the current
    time) is when certificates must be valid.
    """
    tree = parse_xml(data)
    roots = tuple(_certificate(r) for r in trust_roots)
    moment = now or datetime.now(UTC)
    signatures = tree.getroot().iter(f"{{{DS}}}Signature")
    return XmlVerificationReport(
        tuple(_check_signature(tree, s, roots, moment) for s in list(signatures))
    )


def _certificate(root: bytes | x509.Certificate) -> x509.Certificate:
    return root if isinstance(root, x509.Certificate) else x509.load_der_x509_certificate(root)


def _check_signature(
    tree: Any, signature: Any, roots: Sequence[x509.Certificate], now: datetime
) -> XmlSignatureReport:
    problems: list[XmlProblem] = []
    signed_info = signature.find("ds:SignedInfo", _NS)
    value_element = signature.find("ds:SignatureValue", _NS)
    if signed_info is None or value_element is None:
        problems.append(XmlProblem.MALFORMED)
    references = (
        tuple(
            _check_reference(tree, signature, r, problems)
            for r in signed_info.findall("ds:Reference", _NS)
        )
        if signed_info is not None
        else ()
    )
    intact = bool(references) and all(r.intact for r in references)

    certificates = _keyinfo_certificates(signature)
    algorithm = ""
    value_ok = False
    signer: x509.Certificate | None = certificates[0] if certificates else None
    if not certificates:
        problems.append(XmlProblem.NO_CERTIFICATE)
    if signed_info is not None and value_element is not None:
        method = signed_info.find("ds:SignatureMethod", _NS)
        algorithm = "" if method is None else str(method.get("Algorithm", ""))
        try:
            canonical = _canonical_signed_info(signed_info)
            value = _base64(value_element)
            # KeyInfo may hold the chain too: the signer is the one whose key verifies.
            for candidate in certificates:
                if _value_verifies(candidate, algorithm, canonical, value):
                    signer, value_ok = candidate, True
                    break
            else:
                if certificates:
                    problems.append(XmlProblem.BAD_SIGNATURE)
        except _Unsupported:
            problems.append(XmlProblem.UNSUPPORTED)
        except (binascii.Error, ValueError, etree.LxmlError):
            problems.append(XmlProblem.MALFORMED)
    if _uses_sha1(algorithm, signed_info):
        problems.append(XmlProblem.WEAK_ALGORITHM)

    signing_time, time_covered = _signing_time(signature, references)
    if signing_time is not None and not time_covered:
        problems.append(XmlProblem.SIGNING_TIME_UNSIGNED)

    trusted = False
    chain: tuple[str, ...] = ()
    if signer is not None:
        others = [c for c in certificates if c is not signer]
        trusted, chain, found = _trust(signer, others, roots, now)
        problems += found
        problems += _at_signing(signer, signing_time)
    return XmlSignatureReport(
        signature_id=str(signature.get("Id", "")),
        signer=_common_name(signer) if signer is not None else "",
        subject=signer.subject.rfc4514_string() if signer is not None else "",
        issuer=signer.issuer.rfc4514_string() if signer is not None else "",
        not_before=signer.not_valid_before_utc if signer is not None else None,
        not_after=signer.not_valid_after_utc if signer is not None else None,
        certificate=signer.public_bytes(Encoding.DER) if signer is not None else b"",
        references=references,
        intact=intact,
        value_ok=value_ok,
        trusted=trusted,
        chain=chain,
        signing_time=signing_time,
        algorithm=algorithm,
        problems=tuple(dict.fromkeys(problems)),
    )


def _check_reference(
    tree: Any, signature: Any, reference: Any, problems: list[XmlProblem]
) -> ReferenceCheck:
    uri = str(reference.get("URI", ""))
    try:
        target_id, keep_comments = _target_of(uri)
    except _Unsupported:
        problems.append(XmlProblem.UNSUPPORTED)
        return ReferenceCheck(uri, uri, "", intact=False)
    if target_id:
        found = elements_with_id(tree, target_id)
        if len(found) != 1:
            # An Id carried twice is as bad as a missing one: which element was signed?
            problems.append(XmlProblem.REFERENCE_NOT_FOUND)
            return ReferenceCheck(uri, target_id, "", intact=False)
        target = found[0]
    else:
        target = tree.getroot()
    element = _local(target)
    try:
        octets = _transformed(
            tree,
            signature,
            reference,
            target,
            keep_comments=keep_comments,
            target_is_element=bool(target_id),
        )
        name = _digest_name(reference)
        expected = _base64(reference.find("ds:DigestValue", _NS))
    except _Unsupported:
        problems.append(XmlProblem.UNSUPPORTED)
        return ReferenceCheck(uri, target_id, element, intact=False)
    except (binascii.Error, ValueError, etree.LxmlError):
        problems.append(XmlProblem.MALFORMED)
        return ReferenceCheck(uri, target_id, element, intact=False)
    intact = hmac.compare_digest(hashlib.new(name, octets).digest(), expected)
    if not intact:
        problems.append(XmlProblem.DIGEST_MISMATCH)
    return ReferenceCheck(uri, target_id, element, intact=intact)


def _digest_name(reference: Any) -> str:
    method = reference.find("ds:DigestMethod", _NS)
    name = DIGESTS.get("" if method is None else str(method.get("Algorithm", "")))
    if name is None:
        raise _Unsupported
    return name


def _target_of(uri: str) -> tuple[str, bool]:
    """(Id, keep comments) for a same-document URI; ``""`` is the whole document.

    Bare-name ``#id`` and ``""`` drop comments, the XPointer forms keep them (XMLDSig
    4.4.3.3). Anything else would need fetching, which a verifier run on a document
    from the web must not do.
    """
    if uri == "":
        return "", False
    if uri == "#xpointer(/)":
        return "", True
    if uri.startswith("#xpointer(id(") and uri.endswith("))"):
        inner = uri[len("#xpointer(id(") : -2]
        if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
            return inner[1:-1], True
        raise _Unsupported
    if uri.startswith("#") and len(uri) > 1 and "(" not in uri:
        return uri[1:], False
    raise _Unsupported


def _transformed(
    tree: Any,
    signature: Any,
    reference: Any,
    target: Any,
    *,
    keep_comments: bool,
    target_is_element: bool,
) -> bytes:
    """The octets a Reference's digest is over: its transforms, then C14N if none ended it."""
    transforms = reference.findall("ds:Transforms/ds:Transform", _NS)
    algorithms = [str(t.get("Algorithm", "")) for t in transforms]
    # No canonicalization transform: the node-set becomes octets by inclusive C14N 1.0,
    # comments kept only for the XPointer forms (XMLDSig 4.3.3.2).
    method = c14n.Method(exclusive=False, with_comments=keep_comments)
    prefixes: tuple[str, ...] = ()
    for index, algorithm in enumerate(algorithms):
        if algorithm == c14n.ENVELOPED_SIGNATURE:
            continue
        if algorithm in c14n.METHODS and index == len(algorithms) - 1:
            method = c14n.METHODS[algorithm]
            prefixes = _inclusive_prefixes(transforms[-1])
            continue
        raise _Unsupported
    if c14n.ENVELOPED_SIGNATURE in algorithms:
        try:
            tree, target = c14n.without_signature(tree, signature, target)
        except ValueError as exc:  # the Signature is the root: nothing remains to digest
            raise _Unsupported from exc
    if target is tree.getroot() and not target_is_element:
        return c14n.canonical_document(
            tree,
            exclusive=method.exclusive,
            with_comments=method.with_comments,
            inclusive_prefixes=prefixes,
        )
    return c14n.canonical(
        target,
        exclusive=method.exclusive,
        with_comments=method.with_comments,
        inclusive_prefixes=prefixes,
    )


def _inclusive_prefixes(transform: Any) -> tuple[str, ...]:
    """Exclusive C14N's ``InclusiveNamespaces PrefixList`` on a transform or method."""
    spec = transform.find(f"{{{c14n.EXC_C14N}}}InclusiveNamespaces")
    if spec is None:
        return ()
    # "#default" asks for the default namespace, which exclusive C14N writes anyway
    # wherever it is used; lxml takes prefixes only.
    return tuple(p for p in str(spec.get("PrefixList", "")).split() if p != "#default")


def _canonical_signed_info(signed_info: Any) -> bytes:
    element = signed_info.find("ds:CanonicalizationMethod", _NS)
    algorithm = "" if element is None else str(element.get("Algorithm", ""))
    method = c14n.METHODS.get(algorithm)
    if method is None:
        raise _Unsupported
    return c14n.canonical(
        signed_info,
        exclusive=method.exclusive,
        with_comments=method.with_comments,
        inclusive_prefixes=_inclusive_prefixes(element) if method.exclusive else (),
    )


def _value_verifies(
    certificate: x509.Certificate, algorithm: str, message: bytes, value: bytes
) -> bool:
    if algorithm not in SIGNATURE_METHODS:
        raise _Unsupported
    kind, digest = SIGNATURE_METHODS[algorithm]
    try:
        key = certificate.public_key()
        if kind == "rsa" and isinstance(key, rsa.RSAPublicKey):
            key.verify(value, message, padding.PKCS1v15(), digest())
            return True
        if kind == "ec" and isinstance(key, ec.EllipticCurvePublicKey):
            # XMLDSig writes r||s, each as long as the curve's order; cryptography wants DER.
            half = len(value) // 2
            if len(value) % 2 or half == 0:
                return False
            der = encode_dss_signature(
                int.from_bytes(value[:half], "big"), int.from_bytes(value[half:], "big")
            )
            key.verify(der, message, ec.ECDSA(digest()))
            return True
    except (InvalidSignature, UnsupportedAlgorithm, ValueError):
        return False
    return False


def _uses_sha1(algorithm: str, signed_info: Any) -> bool:
    if signed_info is None:
        return False
    digests = {
        str(m.get("Algorithm", ""))
        for m in signed_info.findall("ds:Reference/ds:DigestMethod", _NS)
    }
    return algorithm.endswith("sha1") or DS + "sha1" in digests


def _keyinfo_certificates(signature: Any) -> list[x509.Certificate]:
    found: list[x509.Certificate] = []
    for element in signature.findall("ds:KeyInfo/ds:X509Data/ds:X509Certificate", _NS):
        try:
            found.append(x509.load_der_x509_certificate(_base64(element)))
        except (binascii.Error, ValueError):
            continue
    return found


def _base64(element: Any) -> bytes:
    if element is None or not (element.text or "").strip():
        raise ValueError("empty")
    # Issuers wrap base64 at 64 or 76 columns, some with CR LF: whitespace is not data.
    return base64.b64decode("".join(element.text.split()), validate=True)


def _signing_time(
    signature: Any, references: Sequence[ReferenceCheck]
) -> tuple[datetime | None, bool]:
    """The claimed SigningTime and whether a Reference of the signature covers it."""
    own_id = signature.get("Id")
    chosen = None
    for prop in signature.iterfind("ds:Object//ds:SignatureProperty", _NS):
        target = str(prop.get("Target", ""))
        if own_id is None or target in (f"#{own_id}", own_id):
            chosen = prop
            break
    if chosen is None:
        return None, False
    stamp = next((e for e in chosen.iter() if _local(e) == "SigningTime"), None)
    if stamp is None:
        return None, False
    moment = _datetime("".join(stamp.itertext()).strip())
    # Covered when a Reference names the stamp or an element around it inside the
    # Signature; a Reference above the Signature cannot, its enveloped-signature
    # transform takes the whole Signature out.
    inside = [stamp]
    for ancestor in stamp.iterancestors():
        if ancestor is signature:
            break
        inside.append(ancestor)
    ids = {id_of(e) for e in inside} - {None}
    covered = any(r.element and r.target in ids for r in references)
    return moment, covered


def _datetime(raw: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=VIETNAM_TIME)


def _trust(
    signer: x509.Certificate,
    others: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    now: datetime,
) -> tuple[bool, tuple[str, ...], list[XmlProblem]]:
    """Chain ``signer`` up through ``others`` to one of ``roots`` by issuer signatures."""
    problems: list[XmlProblem] = []
    if now < signer.not_valid_before_utc:
        problems.append(XmlProblem.CERTIFICATE_NOT_YET_VALID)
    elif now > signer.not_valid_after_utc:
        problems.append(XmlProblem.CERTIFICATE_EXPIRED)
    if not _fit_for_signing(signer):
        problems.append(XmlProblem.KEY_USAGE)
    path = [signer]
    reached = signer in roots
    while not reached and len(path) <= MAX_CHAIN:
        current = path[-1]
        root = _issuer_among(current, roots)
        if root is not None:
            path.append(root)
            reached = True
            break
        above = _issuer_among(current, [c for c in others if c not in path])
        if above is None:
            break
        path.append(above)
    for ca in path[1:]:
        if not _is_ca(ca) or not ca.not_valid_before_utc <= now <= ca.not_valid_after_utc:
            problems.append(XmlProblem.KEY_USAGE)
            break
    if not reached:
        problems.append(XmlProblem.UNTRUSTED)
    trusted = reached and not problems
    return trusted, tuple(c.subject.rfc4514_string() for c in path), problems


def _issuer_among(
    certificate: x509.Certificate, candidates: Iterable[x509.Certificate]
) -> x509.Certificate | None:
    for candidate in candidates:
        try:
            certificate.verify_directly_issued_by(candidate)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            continue
        return candidate
    return None


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _fit_for_signing(certificate: x509.Certificate) -> bool:
    # Vietnamese CAs set either bit on signing certificates (as agent.pdf.verify accepts).
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return bool(usage.digital_signature or usage.content_commitment)


def _at_signing(signer: x509.Certificate, moment: datetime | None) -> list[XmlProblem]:
    if moment is None:
        return []
    if moment < signer.not_valid_before_utc:
        return [XmlProblem.NOT_YET_VALID_AT_SIGNING]
    if moment > signer.not_valid_after_utc:
        return [XmlProblem.EXPIRED_AT_SIGNING]
    return []


def _common_name(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else certificate.subject.rfc4514_string()


def _local(element: Any) -> str:
    tag = element.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""
