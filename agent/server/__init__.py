"""The localhost HTTPS API (aiohttp). Never imports ``pkcs11``."""

from agent.server.app import BIND_ADDRESS, RunningServer, create_app, start_server
from agent.server.keys import ServerSettings

__all__ = ["BIND_ADDRESS", "RunningServer", "ServerSettings", "create_app", "start_server"]
