"""The vnpt layer as the agent starts it (agent/compat/layer.py, agent/compat/registry.py).

The ports are ``vnpt-plugin.js``'s ``ports`` array, in its order (newer copies add 5002 and
5003). The library's connection loop gives up after the third (``currentID < 3``), so pages
reach the agent on 4433, 4434 or 4435 only: when the vendor's plugin holds all three, the
agent listening on 9201 is found by nothing but the status report.
"""

from __future__ import annotations

from agent.compat.layer import CompatLayer
from agent.compat.vnpt.server import create_app

LAYER = CompatLayer(
    name="vnpt",
    product="VNPT-CA Plugin",
    scheme="wss",
    ports=(4433, 4434, 4435, 9201, 9202, 5002, 5003),
    create_app=create_app,
)
