"""The element a page names by its tag, and its Id (agent/compat/xmltag.py): what VNPT's
``TagSigning`` and BKAV's ``tagSigning``/``nodeToSign`` sign."""

from __future__ import annotations

import pytest

from agent.compat.xmltag import id_of_tag
from agent.errors import BadRequest
from agent.messages import Phrase
from agent.xml.parse import parse_xml

DOCUMENT = b"""<Doc Id="doc"><Data Id="payload"><Item>1</Item><Item>2</Item></Data>
<Plain>x</Plain><ns:Inner xmlns:ns="urn:x" Id="inner"/></Doc>"""


def root() -> object:
    return parse_xml(DOCUMENT).getroot()


def test_the_named_element_is_signed_by_its_id_at_any_depth() -> None:
    assert id_of_tag(root(), "Data") == "payload"
    assert id_of_tag(root(), "Doc") == "doc", "the root element counts"
    assert id_of_tag(root(), "Inner") == "inner", "by local name, whatever its prefix"


@pytest.mark.parametrize(
    ("tag", "phrase"),
    [
        ("Nope", Phrase.of("bad_xml_element_missing", path="Nope", profile="enveloped")),
        (
            "Item",
            Phrase.of("bad_xml_element_duplicate", path="Item", count=2, profile="enveloped"),
        ),
        ("Plain", Phrase.of("bad_xml_element_no_id", path="Plain")),
    ],
)
def test_a_missing_repeated_or_id_less_element_is_refused(tag: str, phrase: Phrase) -> None:
    with pytest.raises(BadRequest) as refused:
        id_of_tag(root(), tag)
    assert refused.value.phrase == phrase
