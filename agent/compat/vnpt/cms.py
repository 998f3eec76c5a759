"""``SignCMS`` answers a CMS that carries the signed data, as the plugin does.

Portals' sign-in pages send only that CMS back to their server (``signCms(base64(random))``,
then ``strSignedLogon: data``): the server reads the data out of it. The agent's service makes
detached CMS signatures over a digest (``SigningService.sign_cms``); its signed attributes
hold the data's digest and the signature covers those attributes only, so putting the data
into the ``encapContentInfo`` afterwards changes nothing that was signed.
"""

from __future__ import annotations

from asn1crypto import cms


def attach_content(detached: bytes, content: bytes) -> bytes:
    """``detached`` (a DER ``ContentInfo`` of ``SignedData`` over ``content``'s digest, its
    content type ``data``) with ``content`` inside it."""
    info = cms.ContentInfo.load(detached)
    signed = info["content"]
    if signed["encap_content_info"]["content_type"].native != "data":
        raise ValueError("the CMS does not sign data")
    signed["encap_content_info"] = cms.ContentInfo({"content_type": "data", "content": content})
    return bytes(info.dump(force=True))
