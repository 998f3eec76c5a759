"""Let the user pick a local PDF for a portal, in a chooser of the agent's own.

Used by the VGCA compatibility when a portal sends an empty ``FileName``. The chooser is
a separate process (``python -m agent.ui.sign_file --pick``), like every window of the
agent, so the server never waits on a GUI toolkit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from pathlib import Path

from agent.messages import Lang

log = logging.getLogger(__name__)


async def pick_local_pdf(lang: Lang, timeout: float) -> Path | None:
    """The PDF the user chose, or ``None`` (cancelled, timed out, or no chooser)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agent.ui.sign_file",
        "--pick",
        "--lang",
        lang.value,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        stdout, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        log.info("nobody chose a local file within %.0f s", timeout)
        return None
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    if process.returncode != 0:
        return None
    try:
        return Path(json.loads(stdout)["path"])
    except (ValueError, KeyError, TypeError):
        log.warning("the file chooser answered something unexpected")
        return None
