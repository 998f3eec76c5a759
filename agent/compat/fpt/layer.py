"""The FPT layer as the agent starts it (agent/compat/layer.py, agent/compat/registry.py)."""

from __future__ import annotations

from agent.compat.fpt.server import body_limit, create_app
from agent.compat.layer import CompatLayer

LAYER = CompatLayer(
    name="fpt",
    product="FPT SignPlugin",
    scheme="https",
    ports=(14408,),
    create_app=create_app,
    largest_request=body_limit,
)
