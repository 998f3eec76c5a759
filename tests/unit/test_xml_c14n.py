"""The one canonicalization of signing and verifying, beyond what signing uses.

The document has a prefixed root: the enveloped-signature transform once looked elements up
by ``getpath``, whose ``/r:Root`` the copy's XPath could not resolve.
"""

from __future__ import annotations

from lxml import etree

from agent.xml import c14n

DOC = b"""<r:Root xmlns:r="urn:r" xmlns:u="urn:unused" xmlns="urn:d" xml:lang="vi">\
<!-- c --><Data Id="d"><Item>1</Item><!-- kept? --></Data>\
<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"/>tail</r:Root>"""


def data_of(tree: etree._ElementTree) -> etree._Element:
    found = tree.getroot().find("{urn:d}Data")
    assert found is not None
    return found


def test_exclusive_c14n_writes_only_used_namespaces_plus_the_prefix_list() -> None:
    tree = etree.fromstring(DOC).getroottree()
    plain = c14n.canonical(data_of(tree), exclusive=True)
    assert plain.startswith(b'<Data xmlns="urn:d" Id="d">')
    assert b"xml:lang" not in plain and b"urn:unused" not in plain
    listed = c14n.canonical(data_of(tree), exclusive=True, inclusive_prefixes=["u"])
    assert listed.startswith(b'<Data xmlns="urn:d" xmlns:u="urn:unused" Id="d">')


def test_inclusive_c14n_carries_every_namespace_and_xml_attribute_in_scope() -> None:
    tree = etree.fromstring(DOC).getroottree()
    out = c14n.canonical(data_of(tree), with_comments=True)
    assert out.startswith(
        b'<Data xmlns="urn:d" xmlns:r="urn:r" xmlns:u="urn:unused" Id="d" xml:lang="vi">'
    )
    assert b"<!-- kept? -->" in out
    assert b"<!--" not in c14n.canonical(data_of(tree))


def test_the_enveloped_transform_works_on_a_copy() -> None:
    tree = etree.fromstring(DOC).getroottree()
    root = tree.getroot()
    signature = root.find("{http://www.w3.org/2000/09/xmldsig#}Signature")
    twin, twin_root = c14n.without_signature(tree, signature, root)
    assert twin_root is twin.getroot() and twin_root is not root
    assert b"Signature" not in c14n.canonical_document(twin)
    assert c14n.canonical_document(twin).endswith(b"</Data>tail</r:Root>")
    assert signature is not None and signature.getparent() is root, "the original keeps it"


def test_methods_are_named_by_their_uris() -> None:
    assert c14n.METHODS[c14n.EXC_C14N_WITH_COMMENTS] == c14n.Method(
        exclusive=True, with_comments=True
    )
    assert c14n.METHODS[c14n.C14N] == c14n.Method(exclusive=False, with_comments=False)
