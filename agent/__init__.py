"""Kyso Agent: sign documents from web portals with a PKCS#11 token."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kyso-agent")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
