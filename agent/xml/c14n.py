"""The octets XMLDSig digests and signs: C14N of an element as it stands in its document.

One canonicalisation for signing (:mod:`agent.xml.sign`) and verifying
(:mod:`agent.xml.verify`): inclusive C14N 1.0 and exclusive C14N 1.0, each with or without
comments (:data:`METHODS`), of an element in document context or of a whole document, and
the enveloped-signature transform (:func:`without_signature`) done on a copy.

XMLDSig digests a referenced element with the namespaces in scope there (declared on
any ancestor) and, for inclusive C14N, the ``xml:*`` attributes it inherits
(``xml:lang``, ``xml:space``, ``xml:base``): verifiers of Vietnamese invoices and xmlsec1
compute exactly that, and exclusive C14N or a bare copy gives other bytes.

``etree.tostring(element, method="c14n")`` on an element inside a tree is *not* that:
lxml (6.2, libxml2 2.14) writes ``xmlns=""`` on grandchildren when the default namespace
is declared above the element (``<HSoThueDTu xmlns="…TKhaiThue">``, the ``Signature``'s
own default namespace around ``SignedInfo``). A plain ``copy.deepcopy`` is not it either:
it keeps only the namespaces the subtree uses, while inclusive C14N writes every one in
scope (an ``xmlns:xsi`` on ``HDon`` appears on ``DLHDon``). So the element is rebuilt
with its full in-scope namespace map as real declarations on a new root, its children
deep-copied under it, and (inclusive only) the inherited ``xml:*`` attributes added as
C14N 1.0 prescribes. Exclusive C14N then writes only the namespaces it needs, as it must.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from lxml import etree

from agent.xml.models import DSIG_NS

XML_NS: Final = "http://www.w3.org/XML/1998/namespace"

C14N: Final = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
C14N_WITH_COMMENTS: Final = C14N + "#WithComments"
EXC_C14N: Final = "http://www.w3.org/2001/10/xml-exc-c14n#"
EXC_C14N_WITH_COMMENTS: Final = EXC_C14N + "WithComments"
ENVELOPED_SIGNATURE: Final = DSIG_NS + "enveloped-signature"


@dataclass(frozen=True)
class Method:
    """A canonicalization algorithm, as its URI names it."""

    exclusive: bool
    """Exclusive C14N 1.0 (only the namespaces used are written) rather than inclusive."""
    with_comments: bool
    """Comments are kept (the ``#WithComments`` variants)."""


#: Canonicalization URI → what it does.
METHODS: Final[dict[str, Method]] = {
    C14N: Method(exclusive=False, with_comments=False),
    C14N_WITH_COMMENTS: Method(exclusive=False, with_comments=True),
    EXC_C14N: Method(exclusive=True, with_comments=False),
    EXC_C14N_WITH_COMMENTS: Method(exclusive=True, with_comments=True),
}


def canonical(
    element: Any,
    *,
    with_comments: bool = False,
    exclusive: bool = False,
    inclusive_prefixes: Sequence[str] = (),
) -> bytes:
    """C14N 1.0 of ``element`` in context: inclusive by default, ``exclusive`` on request.

    ``inclusive_prefixes`` is exclusive C14N's ``InclusiveNamespaces PrefixList``: prefixes
    written as in inclusive C14N (ignored for inclusive C14N, which writes them all).
    """
    detached = etree.Element(element.tag, dict(element.attrib), nsmap=element.nsmap)
    detached.text = element.text
    for child in element:
        detached.append(copy.deepcopy(child))  # a copy keeps its tail text
    if not exclusive:
        for name, value in inherited_xml_attributes(element).items():
            if detached.get(name) is None:
                detached.set(name, value)
    return _tostring(detached, with_comments, exclusive, inclusive_prefixes)


def canonical_document(
    tree: Any,
    *,
    with_comments: bool = False,
    exclusive: bool = False,
    inclusive_prefixes: Sequence[str] = (),
) -> bytes:
    """C14N 1.0 of a whole document (``URI=""``): comments and PIs around the root too."""
    return _tostring(tree, with_comments, exclusive, inclusive_prefixes)


def without_signature(tree: Any, signature: Any, target: Any) -> tuple[Any, Any]:
    """The enveloped-signature transform: a copy of ``tree`` without ``signature``.

    Returns the copy and ``target``'s twin in it. The copy keeps the document around the
    target, so that inherited namespaces are canonicalized as they are in the document;
    the original is left alone (the same tree may carry several signatures). The text
    after the Signature is not part of it and stays. Raises ``ValueError`` when the
    Signature is the root: nothing would remain to digest.
    """
    if signature.getparent() is None:
        raise ValueError("the Signature is the document's root")
    twin = copy.deepcopy(tree)
    twin_target = _twin_of(twin, target)
    found = _twin_of(twin, signature)
    parent = found.getparent()
    tail = found.tail
    previous = found.getprevious()
    parent.remove(found)
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    return twin, twin_target


def _twin_of(twin: Any, element: Any) -> Any:
    """``element``'s counterpart in ``twin``, a deep copy of its tree, found by position.

    Not by ``getpath``: its paths name prefixed elements (``/r:Root``) with prefixes that
    XPath on the copy does not know.
    """
    steps: list[int] = []
    while (parent := element.getparent()) is not None:
        steps.append(parent.index(element))
        element = parent
    found = twin.getroot()
    for index in reversed(steps):
        found = found[index]
    return found


def inherited_xml_attributes(element: Any) -> dict[str, str]:
    """The ``xml:*`` attributes of ``element``'s ancestors, the nearest one winning."""
    found: dict[str, str] = {}
    for ancestor in element.iterancestors():
        for name, value in ancestor.attrib.items():
            if name.startswith(f"{{{XML_NS}}}") and name not in found:
                found[name] = value
    return found


def _tostring(
    subject: Any, with_comments: bool, exclusive: bool, inclusive_prefixes: Sequence[str]
) -> bytes:
    result: bytes = etree.tostring(
        subject,
        method="c14n",
        exclusive=exclusive,
        with_comments=with_comments,
        inclusive_ns_prefixes=list(inclusive_prefixes)
        if exclusive and inclusive_prefixes
        else None,
    )
    return result
