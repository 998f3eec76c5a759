"""Local TLS in one place: the loopback-only CA the agent makes, and the stores that trust it.

* :mod:`agent.localtls.ca` — the CA and server certificate: issue, renew, load into a TLS
  context; which certificates are ours.
* :mod:`agent.localtls.stores` — this OS's stores as one: ask them (the helpdesk report's
  checks), install, uninstall (``kyso-agent trust``), trust once per CA at start.
* :mod:`agent.localtls.nss`, :mod:`~agent.localtls.windows`, :mod:`~agent.localtls.system` —
  each kind of store.
* :mod:`agent.localtls.model` — the answers and results, and their lines of text;
  :mod:`agent.localtls.tools` — running the stores' tools.

The server (:mod:`agent.server`) only takes the TLS context made here; the helpdesk report
(:mod:`agent.status`) calls the checks.
"""
