"""The helpdesk status report: what this agent sees, in one frozen object.

The same :class:`StatusReport` is shown by ``kyso-agent status [--json]``, by the tray's
"Copy status report" and by the running agent's local page (``GET https://127.0.0.1:PORT/``,
``GET /status.json``). The package, by job:

* :mod:`agent.status.model` — the report (frozen dataclasses) and its JSON form;
* :mod:`agent.status.collect` — making one: :func:`collect` inside the running agent,
  :func:`build_local` with no agent running (reads the tokens itself);
* :mod:`agent.status.remote` — :func:`fetch_running`: asking the running agent over TLS
  verified against ``DATA_DIR/tls/ca.pem`` (``None`` when no agent answers);
* :mod:`agent.status.render` — the report as text (and ``kyso-agent tokens``' listing);
* :mod:`agent.status.inventory` — the token listing of ``kyso-agent tokens``;
* :mod:`agent.status.codec` — JSON over dataclasses; :mod:`agent.status.logs` — the log lines
  shown, filtered (:func:`~agent.status.logs.scrub_log_line`);
* :mod:`agent.status.bundle` — the support bundle: the report with the configuration (each
  value's source), :mod:`agent.status.system`'s OS and module details, the last log lines and
  audit rows, scrubbed (:mod:`agent.status.redact`: never a PIN, a private key or the control
  secret) and zipped (``kyso-agent support-bundle``, the tray's "Export support bundle…").

Which stores trust the local CA is asked of :mod:`agent.localtls`. Nothing here ever holds a
PIN; log lines are filtered defensively anyway.
"""

from agent.status.collect import StatusSource, build_local, collect
from agent.status.model import StatusReport
from agent.status.remote import STATUS_PATH, StatusError, fetch_running

__all__ = [
    "STATUS_PATH",
    "StatusError",
    "StatusReport",
    "StatusSource",
    "build_local",
    "collect",
    "fetch_running",
]
