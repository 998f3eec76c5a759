"""What a profile signs and where its signature goes, found in (and prepared on) the tree.

Each profile names one element to sign (by its Id: the signature's first Reference is
``#Id``) and one parent element into which the ``Signature`` is appended. Locating a
placement creates the missing signature containers the schemas require (``DSCKS``,
``DSCKS/NBan`` …, ``CKyDTu``) in the document's namespace, and refuses a place that
already holds a signature.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from lxml import etree

from agent.errors import BadRequest
from agent.messages import Phrase
from agent.xml.models import DSIG_NS, EinvoiceRole, PlacementSpec, Profile
from agent.xml.parse import elements_named, find_by_id, id_of

# The schema's order of DSCKS children: a created one goes in its place, not at the end.
_DSCKS_ORDER: Final = ("NBan", "NMua", "CQT", "CCKSKhac")

# Element names only, child (/) or descendant (//) steps: no functions, predicates, axes
# or prefixes, so a caller's path can neither run code nor depend on prefix bindings.
_XPATH_STEP = r"//?[A-Za-z_][A-Za-z0-9_.\-]*"
_SIMPLE_XPATH: Final = re.compile(rf"(?:{_XPATH_STEP})+")


@dataclass(frozen=True)
class Placement:
    """Where one signature goes, located in a parsed tree."""

    signed: Any
    """The element the first Reference covers (an ``lxml`` element of the tree)."""
    signed_id: str
    """Its Id, as written in ``Reference/@URI`` after ``#``."""
    parent: Any
    """The element to which the ``Signature`` is appended."""
    id_hint: str
    """What the Signature's Id starts with (``NBan``, ``NNT`` …); made unique when signing."""


def locate(tree: Any, spec: PlacementSpec) -> Placement:
    """Find (and prepare) the placement ``spec`` describes in ``tree``.

    Raises :class:`BadRequest` when an element is missing or repeated, an Id is
    missing or duplicate, or the place already holds a signature.
    """
    if spec.profile is Profile.EINVOICE:
        return einvoice(tree, spec.role)
    if spec.profile is Profile.TAX_DECLARATION:
        return tax_declaration(tree)
    if spec.profile is Profile.TAX_MESSAGE:
        return tax_message(tree)
    if spec.sign_id is None:
        raise BadRequest(Phrase.of("bad_missing_fields", fields="id", count=1))
    return enveloped(tree, spec.sign_id, parent_id=spec.parent_id, parent_xpath=spec.parent_xpath)


def infer_spec(tree: Any) -> PlacementSpec:
    """The placement a document's own shape implies, for callers that name none (the VGCA
    port's ``SignXML``): an e-invoice (``HDon``, also inside a tax message) as its seller, a
    tax declaration, a tax message, or else the root element by its Id, signed into itself.

    Raises :class:`BadRequest` when the root element has no Id: a signature here always
    names what it covers (``#Id``), never the whole document implicitly.
    """
    root = tree.getroot()
    for name, profile in _SHAPES:
        if elements_named(root, name):
            return PlacementSpec(profile)
    sign_id = id_of(root)
    if sign_id is None:
        raise BadRequest(Phrase.of("bad_xml_root_no_id", element=etree.QName(root).localname))
    return PlacementSpec(Profile.ENVELOPED, sign_id=sign_id)


# The element that marks each profile, the most specific first: an invoice travels inside
# a tax message (TDiep/DLieu/HDon) and is then still signed as an invoice.
_SHAPES: Final = (
    ("HDon", Profile.EINVOICE),
    ("HSoThueDTu", Profile.TAX_DECLARATION),
    ("TDiep", Profile.TAX_MESSAGE),
)


def einvoice(tree: Any, role: EinvoiceRole = EinvoiceRole.SELLER) -> Placement:
    """``HDon/DLHDon`` signed into ``HDon/DSCKS/<NBan|NMua|CQT|CCKSKhac>``."""
    profile = Profile.EINVOICE.value
    invoice = one_element(tree.getroot(), "HDon", "HDon", profile)
    data = one_element(invoice, "DLHDon", "HDon/DLHDon", profile, children_only=True)
    signed_id = _checked_id(tree, data, "HDon/DLHDon")
    dscks = _child_or_new(invoice, "DSCKS", "HDon/DSCKS", profile)
    where = f"HDon/DSCKS/{role.element}"
    parent = _child_or_new(dscks, role.element, where, profile, order=_DSCKS_ORDER)
    _refuse_signed(parent, where)
    return Placement(data, signed_id, parent, role.element)


def tax_declaration(tree: Any) -> Placement:
    """``HSoThueDTu/HSoKhaiThue`` (``id="_NODE_TO_SIGN"``) signed into ``HSoThueDTu/CKyDTu``."""
    profile = Profile.TAX_DECLARATION.value
    root = one_element(tree.getroot(), "HSoThueDTu", "HSoThueDTu", profile)
    data = one_element(root, "HSoKhaiThue", "HSoThueDTu/HSoKhaiThue", profile, children_only=True)
    signed_id = _checked_id(tree, data, "HSoThueDTu/HSoKhaiThue")
    parent = _child_or_new(root, "CKyDTu", "HSoThueDTu/CKyDTu", profile)
    _refuse_signed(parent, "HSoThueDTu/CKyDTu")
    return Placement(data, signed_id, parent, "NNT")


def tax_message(tree: Any) -> Placement:
    """``TDiep/DLieu/TKhai`` signed into ``TKhai/DSCKS/NNT``.

    The signed element is ``TKhai``'s child that carries an Id (``DLTKhai``), or
    ``TKhai`` itself when it carries the Id (the signature is then enveloped in it).
    """
    profile = Profile.TAX_MESSAGE.value
    message = one_element(tree.getroot(), "TDiep", "TDiep", profile)
    payload = one_element(message, "DLieu", "TDiep/DLieu", profile, children_only=True)
    declaration = one_element(payload, "TKhai", "TDiep/DLieu/TKhai", profile, children_only=True)
    with_id = [child for child in _children(declaration) if id_of(child) is not None]
    if len(with_id) == 1:
        data, where = with_id[0], f"TDiep/DLieu/TKhai/{etree.QName(with_id[0]).localname}"
    else:
        data, where = declaration, "TDiep/DLieu/TKhai"
    signed_id = _checked_id(tree, data, where)
    dscks = _child_or_new(declaration, "DSCKS", "TDiep/DLieu/TKhai/DSCKS", profile)
    parent = _child_or_new(dscks, "NNT", "TDiep/DLieu/TKhai/DSCKS/NNT", profile)
    _refuse_signed(parent, "TDiep/DLieu/TKhai/DSCKS/NNT")
    return Placement(data, signed_id, parent, "NNT")


def enveloped(
    tree: Any, sign_id: str, *, parent_id: str | None = None, parent_xpath: str | None = None
) -> Placement:
    """The element with Id ``sign_id``, signed into the element ``parent_id`` or ``parent_xpath``.

    Without a parent the signature goes inside the signed element itself.
    """
    profile = Profile.ENVELOPED.value
    signed = find_by_id(tree, sign_id)
    if parent_id is not None:
        parent = find_by_id(tree, parent_id)
    elif parent_xpath is not None:
        parent = _by_simple_xpath(tree, parent_xpath, profile)
    else:
        parent = signed
    _refuse_signed(parent, etree.QName(parent).localname)
    return Placement(signed, sign_id, parent, "Signature")


def _by_simple_xpath(tree: Any, path: str, profile: str) -> Any:
    if not _SIMPLE_XPATH.fullmatch(path):
        raise BadRequest(Phrase.of("bad_xml_xpath", xpath=path))
    # Steps match by local name so that the caller need not bind namespace prefixes.
    expression = re.sub(r"(//?)([A-Za-z_][A-Za-z0-9_.\-]*)", r"\1*[local-name()='\2']", path)
    found: list[Any] = tree.xpath(expression)
    if not found:
        raise BadRequest(Phrase.of("bad_xml_element_missing", path=path, profile=profile))
    if len(found) > 1:
        raise BadRequest(
            Phrase.of("bad_xml_element_duplicate", path=path, count=len(found), profile=profile)
        )
    return found[0]


def _children(element: Any) -> list[Any]:
    # Comments and processing instructions are children too in lxml; only elements count.
    return [child for child in element if isinstance(child.tag, str)]


def one_element(
    context: Any, name: str, where: str, profile: str, *, children_only: bool = False
) -> Any:
    """The one element of local name ``name`` at or below ``context`` (or among its
    children); missing or repeated, a :class:`BadRequest` naming it as ``where`` in
    ``profile``."""
    found = elements_named(context, name, children_only=children_only)
    if not found:
        raise BadRequest(Phrase.of("bad_xml_element_missing", path=where, profile=profile))
    if len(found) > 1:
        raise BadRequest(
            Phrase.of("bad_xml_element_duplicate", path=where, count=len(found), profile=profile)
        )
    return found[0]


def _checked_id(tree: Any, element: Any, where: str) -> str:
    value = id_of(element)
    if value is None:
        raise BadRequest(Phrase.of("bad_xml_element_no_id", path=where))
    # The verifier resolves "#Id" over the whole document: another element with the same
    # Id would make the reference ambiguous (signature wrapping), so refuse it now.
    find_by_id(tree, value)
    return value


def _child_or_new(
    parent: Any, name: str, where: str, profile: str, *, order: tuple[str, ...] = ()
) -> Any:
    found = [c for c in _children(parent) if etree.QName(c).localname == name]
    if len(found) > 1:
        raise BadRequest(
            Phrase.of("bad_xml_element_duplicate", path=where, count=len(found), profile=profile)
        )
    if found:
        return found[0]
    namespace = etree.QName(parent).namespace
    child = etree.Element(etree.QName(namespace, name) if namespace else name)
    preceding = order[: order.index(name)] if name in order else ()
    before = [c for c in _children(parent) if etree.QName(c).localname in preceding]
    if before:
        before[-1].addnext(child)
    else:
        parent.append(child)
    return child


def _refuse_signed(parent: Any, where: str) -> None:
    if any(etree.QName(c).namespace == DSIG_NS for c in _children(parent) if _is_sig(c)):
        raise BadRequest(Phrase.of("bad_xml_already_signed", path=where))


def _is_sig(element: Any) -> bool:
    return bool(etree.QName(element).localname == "Signature")
