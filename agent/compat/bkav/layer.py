"""The bkav layer as the agent starts it (agent/compat/layer.py, agent/compat/registry.py).

``BkavCAPlugin.js`` opens ``wss://localhost:8443`` and, after two seconds without an answer,
tries the same port once more: 8443 is the only port its pages look at.
"""

from __future__ import annotations

from agent.compat.bkav.protocol import PRODUCT
from agent.compat.bkav.server import create_app
from agent.compat.layer import CompatLayer

LAYER = CompatLayer(
    name="bkav",
    product=PRODUCT,
    scheme="wss",
    ports=(8443,),
    create_app=create_app,
)
