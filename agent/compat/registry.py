"""Every compatibility layer the agent can start, in the order it starts them."""

from __future__ import annotations

from typing import Final

from agent.compat.bkav.layer import LAYER as BKAV
from agent.compat.fpt.layer import LAYER as FPT
from agent.compat.layer import CompatLayer
from agent.compat.vgca.layer import LAYER as VGCA
from agent.compat.vnpt.layer import LAYER as VNPT

LAYERS: Final[tuple[CompatLayer, ...]] = (VGCA, VNPT, BKAV, FPT)
