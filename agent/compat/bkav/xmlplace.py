"""Where an XML signature goes, from the plugin's ``tagSigning``, ``nodeToSign`` and
``tagSaveResult``, as one of the agent's placements (:mod:`agent.xml.profiles`).

The agent signs an element by its Id (``Reference URI="#Id"``), never the whole document
implicitly: a document of a kind it knows (an e-invoice, a tax declaration, a tax message)
is signed where that kind prescribes when the tags name that place or nothing; any other
document is signed at the element the tags name, into the element ``tagSaveResult`` names
(by default the document's root element).
"""

from __future__ import annotations

import re
from typing import Any, Final

from lxml import etree

from agent.compat.bkav.calls import XmlTags
from agent.compat.bkav.protocol import bad_message
from agent.compat.xmltag import id_of_tag
from agent.errors import BadRequest
from agent.messages import Phrase
from agent.xml.models import EinvoiceRole, PlacementSpec, Profile
from agent.xml.parse import elements_with_id, id_of, parse_xml
from agent.xml.profiles import infer_spec

_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_PATH: Final = re.compile(r"(?://?[A-Za-z_][A-Za-z0-9_.\-]*)+")

# The places each known kind prescribes, as the tags may name them ("" names nothing).
_ROLES: Final = {role.element: role for role in EinvoiceRole}
_KNOWN: Final[dict[Profile, tuple[frozenset[str], frozenset[str]]]] = {
    Profile.EINVOICE: (frozenset({"", "DLHDon"}), frozenset({"", "DSCKS", *_ROLES})),
    Profile.TAX_DECLARATION: (frozenset({"", "HSoKhaiThue"}), frozenset({"", "CKyDTu"})),
    Profile.TAX_MESSAGE: (
        frozenset({"", "TKhai", "DLTKhai"}),
        frozenset({"", "DSCKS", "NNT"}),
    ),
}


def placement_for(xml: bytes, tags: XmlTags) -> PlacementSpec:
    """The placement ``tags`` mean in ``xml`` (parsed here, on the caller's thread).

    Raises :class:`BadRequest` for XML that cannot be parsed, a tag that is not an element
    name, or an element that is missing, repeated or has no Id.
    """
    tree = parse_xml(xml)
    try:
        known: PlacementSpec | None = infer_spec(tree)
    except BadRequest:
        known = None
    if known is not None and known.profile in _KNOWN:
        signing, saving = _KNOWN[known.profile]
        save_name = _last_step(tags.save)
        if tags.signing in signing and tags.node in signing and save_name in saving:
            if known.profile is Profile.EINVOICE and save_name in _ROLES:
                return PlacementSpec(Profile.EINVOICE, role=_ROLES[save_name])
            return known
    if not (tags.signing or tags.node or tags.save) and known is not None:
        return known
    sign_id = _signed_id(tree, tags)
    return PlacementSpec(Profile.ENVELOPED, sign_id=sign_id, parent_xpath=_parent_path(tree, tags))


def _last_step(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _signed_id(tree: Any, tags: XmlTags) -> str:
    """The Id of the element to sign: ``nodeToSign`` as an Id, else the element that
    ``nodeToSign`` or ``tagSigning`` names, else the root element."""
    if tags.node and len(elements_with_id(tree, tags.node)) == 1:
        return tags.node
    name = tags.node or tags.signing
    if name:
        if not _NAME.fullmatch(name):
            field = "nodeToSign" if tags.node else "tagSigning"
            raise bad_message(Phrase.of("bkav_tag", tag=name[:60], field=field))
        return id_of_tag(tree.getroot(), name)
    root = tree.getroot()
    value = id_of(root)
    if value is None:
        raise BadRequest(Phrase.of("bad_xml_element_no_id", path=etree.QName(root).localname))
    return value


def _parent_path(tree: Any, tags: XmlTags) -> str:
    """``tagSaveResult`` as a path the placement reads (``NBan`` → ``//NBan``); without it
    the root element, where the plugin puts a signature it is given no place for."""
    save = tags.save
    if not save:
        root: str = etree.QName(tree.getroot()).localname
        return "/" + root
    if _NAME.fullmatch(save):
        return "//" + save
    if _PATH.fullmatch(save):
        return save
    raise bad_message(Phrase.of("bkav_tag", tag=save[:60], field="tagSaveResult"))
