"""The XML parser refuses DTDs, entities and bad XML before anything else, and finds Ids."""

from __future__ import annotations

import pytest
from lxml import etree

from agent.errors import BadRequest, ErrorCode
from agent.messages import Lang
from agent.xml.parse import elements_named, elements_with_id, find_by_id, parse_xml

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<HDon><DLHDon Id="a">&lol3;</DLHDon></HDon>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE HDon [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<HDon><DLHDon Id="a">&xxe;</DLHDon></HDon>
"""
EXTERNAL_DTD_UTF16 = (
    '<?xml version="1.0" encoding="UTF-16"?>'
    '<!DOCTYPE HDon SYSTEM "http://example.invalid/hdon.dtd"><HDon/>'
).encode("utf-16")


def rejected(data: bytes) -> BadRequest:
    with pytest.raises(BadRequest) as caught:
        parse_xml(data)
    assert caught.value.code is ErrorCode.BAD_REQUEST
    assert caught.value.http_status == 400
    return caught.value


@pytest.mark.parametrize(
    "data",
    [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD_UTF16, b"<!doctype a><a/>"],
    ids=["billion-laughs", "external-entity", "external-dtd-utf16", "lowercase-doctype"],
)
def test_any_doctype_is_refused_before_parsing(data: bytes) -> None:
    error = rejected(data)
    assert error.phrase is not None and error.phrase.key == "bad_xml_doctype"
    assert "DOCTYPE" in error.public_message(Lang.VI)


@pytest.mark.parametrize(
    "data", [b"<HDon><DLHDon></HDon>", b"<a>&undeclared;</a>", b"not xml", b"<a/><b/>"]
)
def test_xml_that_is_not_well_formed_is_refused_with_the_line(data: bytes) -> None:
    error = rejected(data)
    assert error.phrase is not None and error.phrase.key == "bad_xml_malformed"
    assert "line 1" in str(error)


@pytest.mark.parametrize("data", [b"", b" \n\t"])
def test_an_empty_document_is_refused(data: bytes) -> None:
    assert rejected(data).phrase.key == "bad_xml_empty"  # type: ignore[union-attr]


def test_comments_processing_instructions_and_the_prolog_are_kept() -> None:
    tree = parse_xml(b'<?xml version="1.0"?>\n<!-- before --><r><?pi x?><!-- in --><a/></r>')
    assert tree.getroot().getprevious().text == " before "
    assert len(tree.getroot()) == 3


@pytest.mark.parametrize("attribute", ["Id", "ID", "id"])
def test_find_by_id_accepts_the_three_spellings(attribute: str) -> None:
    tree = parse_xml(f'<r><x/><y {attribute}="_NODE_TO_SIGN"/></r>'.encode())
    assert find_by_id(tree, "_NODE_TO_SIGN").tag == "y"


def test_find_by_id_matches_the_root_and_namespaced_elements() -> None:
    tree = parse_xml(b'<r xmlns="urn:x" id="top"><y Id="inner"/></r>')
    assert find_by_id(tree, "top") is tree.getroot()
    assert find_by_id(tree, "inner").tag == "{urn:x}y"


def test_find_by_id_refuses_a_duplicate_even_across_spellings() -> None:
    tree = parse_xml(b'<r><a Id="x"/><b><c id="x"/></b></r>')
    with pytest.raises(BadRequest) as caught:
        find_by_id(tree, "x")
    assert caught.value.phrase is not None
    assert caught.value.phrase.key == "bad_xml_id_duplicate"
    assert "2" in str(caught.value)


def test_find_by_id_names_a_missing_id() -> None:
    with pytest.raises(BadRequest) as caught:
        find_by_id(parse_xml(b"<r/>"), "DLHDon-1")
    assert caught.value.phrase is not None and caught.value.phrase.key == "bad_xml_id_missing"
    assert caught.value.to_wire(Lang.EN)["error"]["code"] == "BAD_REQUEST"
    assert "DLHDon-1" in caught.value.public_message(Lang.VI)


def test_elements_with_id_counts_an_element_once_and_ignores_other_namespaces() -> None:
    tree = parse_xml(
        b'<r xmlns:p="urn:p" Id="v"><a Id="v" id="v"/><!-- Id="v" --><b p:Id="v"/>'
        b'<c ID="v"/><d id="w"/></r>'
    )
    # Document order; one element with two spellings counts once (a duplicate across
    # elements is what find_by_id refuses); a p:Id is another attribute.
    assert [e.tag for e in elements_with_id(tree, "v")] == ["r", "a", "c"]
    assert [e.tag for e in elements_with_id(tree, "w")] == ["d"]
    assert elements_with_id(tree, "x") == []


def test_elements_with_id_in_a_tree_of_one_element_looks_inside_it_only() -> None:
    # What the summary of a signed element reads: that element, never the rest of the file.
    tree = parse_xml(b'<r Id="v"><a><b Id="v"/></a><c Id="v"/></r>')
    inner = etree.ElementTree(tree.getroot()[0])
    assert [e.tag for e in elements_with_id(inner, "v")] == ["b"]


def test_elements_named_matches_the_local_name_in_any_namespace() -> None:
    root = parse_xml(
        b'<HDon xmlns:p="urn:p"><p:NBan/><x><NBan/></x><y xmlns="urn:d"><NBan/></y></HDon>'
    ).getroot()
    assert [e.tag for e in elements_named(root, "NBan")] == ["{urn:p}NBan", "NBan", "{urn:d}NBan"]
    assert [e.tag for e in elements_named(root, "HDon")] == ["HDon"]  # the context itself
    assert [e.tag for e in elements_named(root, "NBan", children_only=True)] == ["{urn:p}NBan"]
    # A name a page sends is only ever a local name: no wildcard, no prefix, never an error.
    for name in ("*", "", "p:NBan", "{urn:p}NBan", "a b"):
        assert elements_named(root, name) == [], name
