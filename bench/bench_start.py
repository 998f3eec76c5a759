"""How fast the agent starts and how little it costs while it waits, with the budget of
docs/performance.md.

What is measured, on a throw-away SoftHSM token with one RSA-2048 key:

1. **Start-up**: ``kyso-agent serve`` (the installed command, a new data directory per
   agent so that nothing is shared) from ``Popen`` to the first answered ``GET /v1/info``:
   the ``listening on`` line is read from its output, then one request is sent on a new
   connection. The first start in a data directory also creates the local CA and the
   server certificate (key generation): it is shown on a row of its own; the budget applies
   to the later starts (median). Page cache warm: the command ran once before the timing.
2. **Idle memory**: the resident set (``VmRSS``) of the agent process once it has answered,
   and separately that of each child process it has. The token worker process starts with
   the first request that needs the token, so an idle ``serve`` has none; the agent with
   token polling (below) has one, shown on its own row.
3. **Idle CPU** over a window (60 s; ``--quick``: 5 s, printed as such): user + system time
   of the process and its children, as a share of one core, for ``kyso-agent serve`` (no
   token polling: the headless agent does not poll) and for the agent with the token
   monitor polling every second as ``kyso-agent run`` does behind its tray
   (``bench/agent_host.py --poll``). Both wait side by side during the same window.
4. **The tray agent**: ``kyso-agent run`` itself (tray icon, token monitor, the local CA
   trusted in the bench's own home), its memory and CPU in the same window. It needs a desktop
   with a system tray: a private ``Xvfb`` with ``trayer`` (as the desktop tests have), else
   this session's ``$DISPLAY``; without either it is said not to be measured.

Budgets: start-up <= 1.5 s; idle RSS of ``kyso-agent serve``'s process <= 45 MB
(``kyso-agent run``'s is reported beside it, without a budget); idle CPU with token polling
< 1 % of one core.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from harness import (
    AgentProcess,
    BenchError,
    budget_line,
    children,
    cpu_seconds,
    host_argv,
    load_average,
    machine,
    proc_status,
    start_agent,
)

from agent.testing.desktop import system_tray, virtual_display
from agent.testing.softhsm import KeySpec, SoftHsm, TestCa, TokenSpec, new_token

PIN: Final = "246810"
LABEL: Final = "KYSO-BENCH"
ORIGIN: Final = "https://bench.example.gov.vn"
START_BUDGET: Final = 1.5
"""Seconds from process start to the first answered /v1/info."""
RSS_BUDGET: Final = 45 * 1000 * 1000
"""Bytes of resident memory of the idle ``kyso-agent serve`` process (45 MB)."""
CPU_BUDGET: Final = 0.01
"""Share of one core while idle with token polling."""
SHORT: Final = " (quick: shorter than the 60 s of the budget)"
SERVE: Final = "kyso-agent serve (idle)"
POLLING: Final = "agent with token polling (idle)"
RUN: Final = "kyso-agent run (tray, idle)"


@dataclass(frozen=True)
class Plan:
    """How many starts, how long a window."""

    name: str
    starts: int
    """Timed starts after the first one."""
    window: float
    """Seconds of the idle-CPU window."""


FULL: Final = Plan("full", starts=5, window=60.0)
QUICK: Final = Plan("quick", starts=2, window=5.0)


def serve_argv(data_dir: Path, module: Path, command: str = "serve") -> list[str]:
    """``kyso-agent serve`` (or ``run``) as a user runs it (the console script beside this
    interpreter)."""
    script = Path(sys.executable).with_name("kyso-agent")
    program = [str(script)] if script.is_file() else [sys.executable, "-m", "agent"]
    return [
        *program,
        command,
        "--port",
        "0",
        # Every layer on a free port, never a vendor's (an installed agent may hold them).
        *("--vgca-port", "0", "--vnpt-port", "0", "--bkav-port", "0", "--fpt-port", "0"),
        "--data-dir",
        str(data_dir),
        "--pkcs11-module",
        str(module),
        "--allow-origin",
        ORIGIN,
    ]


def isolated_env(root: Path, hsm: SoftHsm) -> dict[str, str]:
    """The token's environment, with a home of its own (no user config file is read)."""
    home = root / "home"
    home.mkdir(exist_ok=True)
    return {
        **hsm.environ(),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
    }


def timed_start(
    argv: Sequence[str], data_dir: Path, env: dict[str, str], log: Path
) -> tuple[float, AgentProcess]:
    """Start an agent; seconds from ``Popen`` to its first answered ``/v1/info``."""
    start = time.perf_counter()
    agent = start_agent(argv, data_dir, env, log)
    try:
        client = agent.client(ORIGIN)
        client.call("GET", "/v1/info")
        seconds = time.perf_counter() - start
        client.close()
    except BaseException:
        agent.stop()
        raise
    return seconds, agent


@dataclass(frozen=True)
class Idle:
    """One idle agent's figures."""

    label: str
    rss: int
    """VmRSS of the agent process, bytes."""
    children: tuple[tuple[int, int], ...]
    """(pid, VmRSS) of each child process."""
    cpu: float
    """Share of one core over the window (process and children)."""


def idle_window(agents: Sequence[tuple[str, AgentProcess]], window: float) -> list[Idle]:
    """CPU over ``window`` seconds of the waiting agents, then their memory."""
    time.sleep(1.0)  # let start-up work (first poll, worker process start) finish

    def total(agent: AgentProcess) -> float:
        return cpu_seconds(agent.pid) + sum(cpu_seconds(c) for c in children(agent.pid))

    before = [total(a) for _, a in agents]
    start = time.monotonic()
    time.sleep(window)
    elapsed = time.monotonic() - start
    after = [total(a) for _, a in agents]
    found = []
    for (label, agent), was, now in zip(agents, before, after, strict=True):
        kids = tuple((c, proc_status(c, "VmRSS")) for c in children(agent.pid))
        found.append(Idle(label, proc_status(agent.pid, "VmRSS"), kids, (now - was) / elapsed))
    return found


def tray_desktop(stack: ExitStack) -> tuple[str | None, str]:
    """Where ``kyso-agent run`` can show its tray icon, kept open by ``stack``: a private Xvfb
    with trayer, else this session's ``$DISPLAY``; ``(None, why)`` when there is neither."""
    try:
        display = stack.enter_context(virtual_display())
        stack.enter_context(system_tray(display))
    except (FileNotFoundError, RuntimeError) as exc:
        if os.environ.get("DISPLAY"):
            return os.environ["DISPLAY"], "this session's display"
        return None, f"no desktop: {exc}"
    return display, "a private Xvfb with trayer"


def _mb(value: int) -> str:
    return f"{value / 1e6:.1f} MB"


def report(
    plan: Plan,
    first: float,
    starts: list[float],
    idle: list[Idle],
    loads: tuple[str, str],
    *,
    desktop: str,
) -> str:
    """The printed table and the budget lines; ``desktop``: where ``kyso-agent run`` ran, or
    why it did not."""
    median = statistics.median(starts)
    lines = [
        "Kyso Agent start-up and idle benchmark: kyso-agent serve and run",
        f"machine: {machine()}",
        f"load:    1-minute load average {loads[0]} at the start, {loads[1]} at the end "
        "(other work on the machine is noise in every figure)",
        f"runs:    {plan.name}: {len(starts)} timed starts after a first one; idle window "
        f"{plan.window:.0f} s{SHORT if plan is QUICK else ''}",
        f"tray:    kyso-agent run on {desktop}"
        if any(one.label == RUN for one in idle)
        else f"tray:    kyso-agent run not measured ({desktop})",
        "",
        f"{'figure':<58} {'value':>14}",
        "-" * 74,
        f"{'first start (creates the local CA and TLS certificate)':<58} {first:>12.3f} s",
        f"{'start to first answered /v1/info, median':<58} {median:>12.3f} s",
        f"{'start to first answered /v1/info, slowest':<58} {max(starts):>12.3f} s",
    ]
    for one in idle:
        lines.append(f"{one.label + ': agent process RSS':<58} {_mb(one.rss):>14}")
        if not one.children:
            lines.append(f"{one.label + ': child processes':<58} {'none':>14}")
        for pid, rss in one.children:
            lines.append(f"{one.label + f': child process {pid} RSS':<58} {_mb(rss):>14}")
        lines.append(
            f"{one.label + f': CPU over {plan.window:.0f} s (with children)':<58} "
            f"{100 * one.cpu:>12.2f} %"
        )
    if not any(one.label == RUN for one in idle):
        lines.append(f"{RUN + ': agent process RSS':<58} {'not measured':>14}")
    lines.append("-" * 74)
    lines.append(f"budget ({plan.name} run):")
    lines.append(
        budget_line(
            "[4] start to first answered /v1/info (median)",
            f"{median:.3f} s",
            f"<= {START_BUDGET} s",
            median <= START_BUDGET,
        )
    )
    serve = next(one for one in idle if one.label == SERVE)
    lines.append(
        budget_line(
            f"[4] idle RSS, {serve.label}",
            _mb(serve.rss),
            f"<= {RSS_BUDGET / 1e6:.0f} MB",
            serve.rss <= RSS_BUDGET,
        )
    )
    polling = next(one for one in idle if one.label == POLLING)
    lines.append(
        budget_line(
            f"[4] idle CPU with token polling ({plan.window:.0f} s)",
            f"{100 * polling.cpu:.2f} % core",
            "< 1 %",
            polling.cpu < CPU_BUDGET,
        )
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Provision, measure, print; 1 when an agent failed to start or answer."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer starts, a 5 s window")
    plan = QUICK if parser.parse_args(argv).quick else FULL
    loads_start = load_average()
    with tempfile.TemporaryDirectory(prefix="kyso-bench-start-") as tmp, ExitStack() as desktops:
        root = Path(tmp)
        try:
            hsm, _ = new_token(
                root,
                TokenSpec(LABEL, PIN, keys=(KeySpec("01", "RSA", "Nguyễn Văn Đo", "Kyso bench"),)),
                TestCa.create("Kyso Bench CA"),
            )
        except subprocess.CalledProcessError as exc:
            print(f"bench aborted: provisioning SoftHSM failed: {exc.stderr}", file=sys.stderr)
            return 1
        env = isolated_env(root, hsm)
        running: list[tuple[str, AgentProcess]] = []
        try:
            first, agent = timed_start(
                serve_argv(root / "serve-0", hsm.module), root / "serve-0", env, root / "s0.log"
            )
            agent.stop()
            starts = []
            for index in range(1, plan.starts + 1):
                # Each start in a data directory that already has its TLS files.
                data_dir = root / f"serve-{index % 2}"
                seconds, agent = timed_start(
                    serve_argv(data_dir, hsm.module), data_dir, env, root / f"s{index}.log"
                )
                starts.append(seconds)
                if index < plan.starts:
                    agent.stop()
            running.append((SERVE, agent))
            _, polling = timed_start(
                host_argv(root / "poll", hsm.module, ORIGIN, PIN, poll=True),
                root / "poll",
                env,
                root / "poll.log",
            )
            running.append((POLLING, polling))
            display, desktop = tray_desktop(desktops)
            if display is not None:
                _, tray = timed_start(
                    serve_argv(root / "run", hsm.module, command="run"),
                    root / "run",
                    {**env, "DISPLAY": display},
                    root / "run.log",
                )
                running.append((RUN, tray))
            idle = idle_window(running, plan.window)
        except (BenchError, OSError) as exc:
            print(f"bench aborted: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        finally:
            for _, one in running:
                one.stop()
    print(report(plan, first, starts, idle, (loads_start, load_average()), desktop=desktop))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
