"""The agent as the benchmarks run it: ``kyso-agent serve``'s own start-up, with a prompter
that approves at once, living in the agent's process.

``python bench/agent_host.py --data-dir DIR --module LIB --origin ORIGIN --pin PIN`` builds
the configuration from these flags alone (no machine policy, no user file), sets the allocator
and configures logging as ``kyso-agent serve`` does, and runs :func:`agent.app.serve` (audit
log, pairing, VGCA compatibility, status page: all of it) with :class:`Approving` answering
every question at once: approved, the first certificate offered, the PIN. It prints ``listening on https://127.0.0.1:PORT``
like the agent, then ``NAME listening on URL`` for each plugin layer (VNPT, BKAV, ...) as
``kyso-agent serve`` does, and runs until SIGTERM or SIGINT.

The prompter exists only in this script: the agent has no flag, configuration key, policy
or API call that could put an approving prompter in its place. ``--poll`` runs the token
monitor beside the server, as ``kyso-agent run`` does behind its tray icon.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from agent import malloc
from agent.app import StartedAgent, serve
from agent.config import configure_logging, load_config
from agent.consent.activity import ActivityRequest, ActivityState, unseen_activity
from agent.consent.prompter import PromptAnswer, PromptRequest
from agent.pin import Pin
from agent.server import RunningServer


class Approving:
    """The user who approves every question at once, picking the first certificate offered
    (the benchmarks' requests name theirs, so there is one) and typing the PIN."""

    shows_documents = False  # approves without looking: no page is drawn for it

    def __init__(self, pin: str) -> None:
        self._pin = pin

    async def ask(self, request: PromptRequest) -> PromptAnswer:
        """Approve."""
        return PromptAnswer(True, request.certificates[0].id, Pin(self._pin))

    def activity(self, request: ActivityRequest) -> AbstractAsyncContextManager[ActivityState]:
        """A batch's progress, which this user does not watch (and never stops)."""
        return unseen_activity(request)


def _listening(server: RunningServer) -> None:
    print(f"listening on {server.url}", flush=True)


def _layer_listening(name: str, url: str) -> None:
    print(f"{name} listening on {url}", flush=True)


async def _monitor(agent: StartedAgent) -> None:
    from agent.token.monitor import TokenMonitor

    await TokenMonitor(agent.tokens, lambda _inventory, _events: None).run()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until told to stop."""
    malloc.tune()  # as kyso-agent's main does, before any thread
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--module", type=Path, required=True, help="the PKCS#11 module")
    parser.add_argument("--origin", required=True, help="the one allowed web origin")
    parser.add_argument("--pin", required=True, help="what the prompter types")
    parser.add_argument("--poll", action="store_true", help="run the token monitor")
    parser.add_argument(
        "--module-isolation",
        choices=("process", "thread"),
        default="process",
        help="where the module's worker runs (the agent's default: process)",
    )
    args = parser.parse_args(argv)
    config = load_config(
        {
            "port": 0,
            # Every layer on a free port: never a vendor's, which an installed agent or a test
            # may hold.
            "vgca_port": 0,
            "vnpt_port": 0,
            "bkav_port": 0,
            "fpt_port": 0,
            "data_dir": str(args.data_dir),
            "pkcs11_modules": [str(args.module)],
            "allowed_origins": [args.origin],
            "module_isolation": args.module_isolation,
        },
        policy={},
        user_config_file=args.data_dir / "no-such-config.toml",
    )
    configure_logging(config)
    asyncio.run(
        serve(
            config,
            prompter=Approving(args.pin),
            on_ready=_listening,
            on_layer=_layer_listening,
            companion=_monitor if args.poll else None,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
