"""The VGCA layer as the agent starts it (agent/compat/layer.py, agent/compat/registry.py)."""

from __future__ import annotations

from aiohttp import web

from agent.compat.layer import CompatLayer, LayerContext
from agent.compat.vgca.server import create_vgca_app
from agent.compat.vgca.settings import TransferLimits, VgcaSettings

#: The port of Ban Cơ yếu's VGCA Sign Service, which portals' vgcaplugin.js connects to.
VGCA_PORT = 8987


def _create_app(context: LayerContext) -> web.Application:
    vgca = VgcaSettings(
        context.data_dir,
        TransferLimits(max_bytes=context.settings.max_pdf_bytes),
        pick_local=context.pick_local,
    )
    return create_vgca_app(
        context.service,
        context.settings,
        vgca,
        caller_check=context.caller_check,
        budget=context.budget,
    )


LAYER = CompatLayer(
    name="vgca",
    product="VGCA Sign Service",
    scheme="wss",
    ports=(VGCA_PORT,),
    create_app=_create_app,
)
