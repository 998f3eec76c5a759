"""What the support bundle scrubs out, in one place: PINs, private keys, the control secret.

Why each cannot be in the bundle (:mod:`agent.status.bundle`):

* **a PIN** — the agent holds none outside a signature and logs none. Still, every log line is
  masked (:func:`~agent.status.logs.mask_secrets`), so are the audit rows' and the settings'
  texts (:func:`masked`), and a setting named like a secret (``pin``, ``*_password``,
  ``*_secret`` …) shows ``***`` whatever it holds (:func:`secret_named`);
* **a private key** — the report reads certificates only, never a token's private objects, and
  no file of the data directory is copied (the local TLS key stays where it is); a PEM private
  key block in any text would be cut out anyway (:func:`redact`);
* **the control secret** of ``agent.instance.json`` (:mod:`agent.instance`) — read only to be
  replaced by ``***`` wherever it might appear, in every file, as the last step (:func:`redact`);
* and **credentials in a URL** (``https://user:password@tsa…``) — masked wherever a URL may
  appear: settings, audit rows, log lines (:func:`hide_url_credentials`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

from agent.instance import read_instance
from agent.status.logs import mask_secrets

REDACTED: Final = "***"
"""What stands where something secret-looking was."""
MIN_SECRET: Final = 8
"""A known secret shorter than this is not scrubbed by value (it would mask ordinary words)."""

#: A setting whose name ends like this would hold a secret.
_SECRET_NAME = re.compile(r"(?:^|_)(?:pin|password|passphrase|passwd|secret)$")
#: ``scheme://user:password@host``: the credentials of a URL.
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@]+@")
_PRIVATE_KEY_BLOCK = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)", re.DOTALL
)


def secret_named(key: str) -> bool:
    """A setting (or field) of this name would hold a secret: ``pin``, ``so_pin``,
    ``proxy_password``, ``token_secret`` (not ``pin_cache_minutes``)."""
    return _SECRET_NAME.search(key) is not None


def hide_url_credentials(text: str) -> str:
    """``text`` with the user and password of every URL in it masked."""
    return _URL_CREDENTIALS.sub(rf"\1{REDACTED}@", text)


def masked(value: Any) -> Any:
    """``value`` (JSON) with every string in it masked: URL credentials, ``pin=…``-like values,
    and the digits of a text that mentions a PIN or password
    (:func:`~agent.status.logs.mask_secrets`)."""
    if isinstance(value, str):
        return mask_secrets(hide_url_credentials(value))
    if isinstance(value, list):
        return [masked(v) for v in value]
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    return value


def control_secrets(data_dir: Path) -> tuple[str, ...]:
    """The secrets that must not leave the computer and could be known here by value: the
    running agent's control secret (``agent.instance.json``)."""
    info = read_instance(data_dir)
    return (info.secret,) if info is not None else ()


def redact(files: Iterable[tuple[str, str]], known: Sequence[str]) -> tuple[tuple[str, bytes], ...]:
    """The last scrub of every file: each ``known`` secret, and any PEM private key block,
    replaced by ``***``; the texts encoded (UTF-8)."""
    values = sorted({s for s in known if len(s) >= MIN_SECRET}, key=len, reverse=True)

    def scrub(content: str) -> bytes:
        for value in values:
            content = content.replace(value, REDACTED)
        return _PRIVATE_KEY_BLOCK.sub(REDACTED, content).encode("utf-8")

    return tuple((name, scrub(content)) for name, content in files)
