"""Which web origins may talk to the agent. Pure functions, no I/O.

An origin is ``scheme://host[:port]`` exactly as browsers send it in the
``Origin`` header. Allow-list entries are either exact origins or a wildcard
subdomain (``https://*.gov.vn``), which admits every host *below* that domain
but not the domain itself. ``http://`` is accepted only for loopback hosts,
because anything else can be rewritten by whoever sits on the network.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
#: Browsers never send longer origins; anything longer is refused before parsing.
MAX_ORIGIN_LENGTH: Final = 255
_LOOPBACK_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "[::1]"})

DEV_EXTENSION_ID: Final = "chipklpdnohojehnebdabndkaobocajj"
"""The ID Chromium gives ``browser-extension/`` (from the public ``key`` in its manifest)."""
_EXTENSION_SCHEMES: Final = {
    # Chromium: 32 letters a-p, the same on every install.
    "chrome-extension://": re.compile(r"[a-p]{32}"),
    # Firefox: a UUID per install, which IT pins by policy (browser-extension/README.md).
    "moz-extension://": re.compile(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}"),
}


def is_extension_id(value: str) -> bool:
    """A Chromium extension ID (32 letters a-p) or a Firefox extension UUID."""
    return any(form.fullmatch(value) for form in _EXTENSION_SCHEMES.values())


class InvalidOrigin(ValueError):
    """Text that is not a usable web origin or allow-list entry."""


@dataclass(frozen=True, order=True)
class Origin:
    """A normalised web origin."""

    scheme: str
    """``https`` (or ``http`` for loopback hosts)."""
    host: str
    """Lower-case host name, IPv4 address or bracketed IPv6 address."""
    port: int
    """Explicit or default port."""

    def __str__(self) -> str:
        if _DEFAULT_PORTS.get(self.scheme) == self.port or not self.port:
            return f"{self.scheme}://{self.host}"
        return f"{self.scheme}://{self.host}:{self.port}"


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _ascii_host(host: str, text: str) -> str:
    """Internationalised names become their IDNA (punycode) form, as browsers send them."""
    if host.isascii():
        return host
    try:
        return ".".join(
            label if label == "*" else label.encode("idna").decode("ascii")
            for label in host.split(".")
        )
    except UnicodeError as exc:
        raise InvalidOrigin(f"bad internationalised host name: {text!r}") from exc


def _split(text: str, *, allow_wildcard: bool) -> tuple[str, str, int]:
    if not text or len(text) > MAX_ORIGIN_LENGTH:
        raise InvalidOrigin(f"not an origin (empty or over {MAX_ORIGIN_LENGTH} characters)")
    if text != text.strip() or any(ord(c) < 0x21 or c in "\\%" for c in text):
        raise InvalidOrigin(f"not an origin: {text!r}")
    try:
        parts = urlsplit(text)
    except ValueError as exc:  # e.g. unbalanced or bogus [IPv6] brackets
        raise InvalidOrigin(f"not an origin: {text!r}") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidOrigin(f"origin must be https:// (or http:// on loopback): {text!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InvalidOrigin(f"origin has a path, query or fragment: {text!r}")
    if parts.username or parts.password:
        raise InvalidOrigin(f"origin has credentials: {text!r}")
    netloc = parts.netloc.lower()
    host, port_text = netloc, ""
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise InvalidOrigin(f"bad IPv6 host: {text!r}")
        host, rest = netloc[: end + 1], netloc[end + 1 :]
        if rest:
            if not rest.startswith(":") or rest == ":":
                raise InvalidOrigin(f"bad port: {text!r}")
            port_text = rest[1:]
    elif ":" in netloc:
        host, port_text = netloc.rsplit(":", 1)
        if not port_text:
            raise InvalidOrigin(f"empty port: {text!r}")
    if not host:
        raise InvalidOrigin(f"origin has no host: {text!r}")
    if not host.startswith("["):
        host = _ascii_host(host, text).lower()
    if port_text:
        if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
            raise InvalidOrigin(f"bad port: {text!r}")
        port = int(port_text)
    else:
        port = _DEFAULT_PORTS[scheme]
    labels = host.split(".")
    if not host.startswith("["):
        for index, label in enumerate(labels):
            if label == "*" and allow_wildcard and index == 0:
                continue
            if not label or not all(c.isalnum() or c == "-" for c in label):
                raise InvalidOrigin(f"bad host name: {text!r}")
    return scheme, host, port


def parse_origin(text: str) -> Origin:
    """Parse and normalise the value of an ``Origin`` header.

    Raises :class:`InvalidOrigin` for ``null``, opaque or malformed origins and
    for ``http://`` on a non-loopback host.
    """
    scheme, host, port = _split(text, allow_wildcard=False)
    if scheme == "http" and not _is_loopback(host):
        raise InvalidOrigin(f"plain http is only allowed for localhost: {text!r}")
    return Origin(scheme, host, port)


@dataclass(frozen=True)
class OriginPattern:
    """One allow-list entry."""

    scheme: str
    """``https`` or (loopback only) ``http``."""
    host: str
    """Exact host, or the parent domain when ``wildcard`` is set."""
    port: int
    """Port that must match exactly."""
    wildcard: bool
    """Admit every strict subdomain of ``host`` instead of ``host`` itself."""

    def matches(self, origin: Origin) -> bool:
        """Whether ``origin`` is admitted by this entry."""
        if origin.scheme != self.scheme or origin.port != self.port:
            return False
        if self.wildcard:
            return origin.host.endswith("." + self.host)
        return origin.host == self.host

    def __str__(self) -> str:
        host = f"*.{self.host}" if self.wildcard else self.host
        return str(Origin(self.scheme, host, self.port))


def parse_pattern(text: str) -> OriginPattern:
    """Parse an allow-list entry such as ``https://portal.gov.vn`` or ``https://*.gov.vn``.

    A wildcard needs at least two labels after ``*.`` so that nobody admits a
    whole top-level domain (``https://*.vn``) by mistake.
    """
    scheme, host, port = _split(text, allow_wildcard=True)
    wildcard = host.startswith("*.")
    if wildcard:
        host = host[2:]
        if host.count(".") < 1 or host.startswith("["):
            raise InvalidOrigin(f"wildcard is too broad: {text!r} (use e.g. https://*.gov.vn)")
        if scheme == "http":
            raise InvalidOrigin(f"wildcards need https: {text!r}")
    if "*" in host:
        raise InvalidOrigin(f"'*' is only allowed as the first label: {text!r}")
    if scheme == "http" and not _is_loopback(host):
        raise InvalidOrigin(f"plain http is only allowed for localhost: {text!r}")
    return OriginPattern(scheme, host, port, wildcard)


@dataclass(frozen=True)
class OriginDecision:
    """The outcome of checking one origin."""

    allowed: bool
    """Whether the origin may use the API."""
    origin: Origin | None
    """The normalised origin, when it could be parsed."""
    via_wildcard: bool
    """Admitted only by a wildcard entry (pairing applies to these)."""


@dataclass(frozen=True)
class Admitted:
    """An origin the server let through, and how."""

    origin: Origin
    """The normalised origin."""
    via_wildcard: bool
    """Admitted only through a wildcard entry: it must be paired on first use."""

    def __str__(self) -> str:
        return str(self.origin)


@dataclass(frozen=True)
class OriginPolicy:
    """The allow-list, checked for every request that carries an ``Origin``."""

    patterns: tuple[OriginPattern, ...] = ()
    """Entries from machine policy, the config file and ``--allow-origin``."""
    extensions: frozenset[str] = frozenset()
    """IDs of the Kyso browser extension builds trusted to relay a page's calls."""

    def is_bridge(self, origin_header: str) -> bool:
        """The Origin is a trusted Kyso extension, which names the page it relays for."""
        for scheme, form in _EXTENSION_SCHEMES.items():
            if origin_header.startswith(scheme):
                found = origin_header.removeprefix(scheme).rstrip("/")
                return form.fullmatch(found) is not None and found in self.extensions
        return False

    @classmethod
    def from_strings(cls, entries: Iterable[str]) -> OriginPolicy:
        """Build a policy from allow-list strings; raises :class:`InvalidOrigin`."""
        return cls(tuple(parse_pattern(entry) for entry in entries))

    def check(self, origin_header: str) -> OriginDecision:
        """Decide on one ``Origin`` header value."""
        try:
            origin = parse_origin(origin_header)
        except InvalidOrigin:
            return OriginDecision(False, None, False)
        exact = any(not p.wildcard and p.matches(origin) for p in self.patterns)
        if exact:
            return OriginDecision(True, origin, False)
        wild = any(p.wildcard and p.matches(origin) for p in self.patterns)
        return OriginDecision(wild, origin, wild)


#: The command line (``kyso-agent sign-pdf``) as a caller: shown in prompts and the audit trail.
LOCAL_CALLER: Final = Admitted(Origin("local", "kyso-agent", 0), via_wildcard=False)
