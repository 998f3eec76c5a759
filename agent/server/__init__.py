"""The localhost HTTPS API (aiohttp). Never imports ``pkcs11``."""

# First of all: aiohttp's import would load the system's CA bundle twice, for two client
# contexts the agent never uses (agent/server/client_contexts.py).
from agent.server.client_contexts import import_aiohttp

import_aiohttp()

from agent.server.app import BIND_ADDRESS, RunningServer, create_app, start_server  # noqa: E402
from agent.server.keys import ServerSettings  # noqa: E402

__all__ = ["BIND_ADDRESS", "RunningServer", "ServerSettings", "create_app", "start_server"]
