"""Asking the running agent for its report, from outside (``kyso-agent status``).

TLS is verified against ``DATA_DIR/tls/ca.pem``, so only this user's agent (of this data
directory) counts; ``None`` when no agent answers.
"""

from __future__ import annotations

import http.client
import json
import ssl
from typing import Final

from agent.config import DEFAULT_PORT_RANGE, AgentConfig
from agent.status.model import StatusReport


class StatusError(Exception):
    """An agent answered, but not with a status report."""


STATUS_PATH: Final = "/status.json"


def _ask(port: int, context: ssl.SSLContext, timeout: float) -> tuple[int, bytes] | None:
    """``GET /status.json`` on one port; ``None`` when nothing (of ours) listens there."""
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=timeout)
    try:
        connection.request("GET", STATUS_PATH, headers={"Accept": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    except (ssl.SSLError, ssl.CertificateError):
        return None  # another user's agent (another CA), or not an agent at all
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def fetch_running(config: AgentConfig, timeout: float = 5.0) -> StatusReport | None:
    """The running agent's report, or ``None`` when none answers.

    Tries ``config.port``, else the default range (8988 to 8998); TLS is verified against
    ``DATA_DIR/tls/ca.pem``, so only this user's agent (of this data directory) counts.
    Raises :class:`StatusError` when an agent answers with something else.
    """
    ca_file = config.tls_dir / "ca.pem"
    if not ca_file.exists():
        return None
    try:
        context = ssl.create_default_context(cafile=str(ca_file))
    except (OSError, ssl.SSLError):
        return None
    ports = [config.port] if config.port else list(DEFAULT_PORT_RANGE)
    for port in ports:
        answer = _ask(port, context, timeout)
        if answer is None:
            continue
        status, body = answer
        if status == 404:
            continue  # an older agent without the status page: keep looking, then read locally
        if status != 200:
            raise StatusError(f"the agent on port {port} answered HTTP {status}: {body[:200]!r}")
        try:
            return StatusReport.from_json(json.loads(body))
        except ValueError as exc:
            raise StatusError(f"the agent on port {port} sent no status report: {exc}") from exc
    return None
