"""The element a page names by its tag (VNPT's ``TagSigning``, BKAV's ``tagSigning`` and
``nodeToSign``), and the Id the signature references it by."""

from __future__ import annotations

from typing import Any

from agent.errors import BadRequest
from agent.messages import Phrase
from agent.xml.models import Profile
from agent.xml.parse import id_of
from agent.xml.profiles import one_element


def id_of_tag(root: Any, tag: str) -> str:
    """The Id of the one element called ``tag`` (by local name, at any depth, ``root``
    included).

    :raises BadRequest: no such element, several, or one without an Id, in the HTTPS API's
        words (the placement the page asked for is an enveloped signature on that element).
    """
    element = one_element(root, tag, tag, Profile.ENVELOPED.value)
    value = id_of(element)
    if value is None:
        raise BadRequest(Phrase.of("bad_xml_element_no_id", path=tag))
    return value
