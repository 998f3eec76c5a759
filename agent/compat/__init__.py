"""Other signing plugins' wire protocols, translated into :class:`~agent.service.SigningService`
calls: the same allow-list, pairing, consent, PIN and audit rules as the HTTPS API.

One package per plugin (``vgca``, ``vnpt``, ``bkav``, ``fpt``); what they all use is here:
:mod:`.layer` (the checks and ports every layer has), :mod:`.fields` (page fields read as vendor
libraries write them), :mod:`.certificates` (certificates as pages name them, and which one a
serial names for an origin), :mod:`.xmltag` (the element a page names by its tag). A layer never
imports another layer's modules."""

# The server's package first: it imports aiohttp without loading the system's CAs into
# aiohttp's default client contexts (agent/server/client_contexts.py), which the layers' own
# imports of aiohttp, sorted before the agent's, would otherwise do.
import agent.server  # noqa: F401
