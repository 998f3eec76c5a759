"""Fixtures for the browser tests: Node.js, Playwright (``playwright-core`` from npm) and
Debian's ``/usr/bin/chromium``, the agent on SoftHSM, and the demo portal's server; for the
plugin layers' tests (``vgca/``, ``vnpt/``, ``bkav/``, ``fpt/``), the test portal serving the
module's ``PAGE`` on an allowed and a foreign origin, and the agent with that page's layer.

In CI (``CI=true``) a missing browser, Node.js or ``node_modules`` fails the tests; on a
developer's machine they are skipped with the command that installs them.
"""

from __future__ import annotations

import concurrent.futures
import importlib.util
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from agent.testing.pki import LocalPki
from tests.browser.portal import PortalPage
from tests.conftest import (
    AgentProcess,
    SessionToken,
    eventually,
    start_agent,
    start_layer_agent,
    stopping,
)
from tests.vgca_portal import Site, serving

REPO = Path(__file__).resolve().parents[2]
EXTENSION = REPO / "browser-extension"
RUNNER = Path(__file__).with_name("run.mjs")
CHROMIUM = Path(os.environ.get("KYSO_CHROMIUM", "/usr/bin/chromium"))
EXTENSION_ID = "chipklpdnohojehnebdabndkaobocajj"


def need(ok: bool, what: str) -> None:
    """Skip without ``what`` on a developer's machine; fail in CI, where it must be there."""
    if ok:
        return
    message = f"{what} is missing (make test installs it: make deps, npm ci)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


def node() -> str:
    """The Node.js binary (fails or skips when there is none)."""
    found = shutil.which("node")
    need(found is not None, "node (Node.js 20 or newer)")
    assert found is not None
    return found


@pytest.fixture(scope="session")
def browser_tools() -> str:
    """Node.js, playwright-core and Chromium, all present."""
    binary = node()
    need(CHROMIUM.exists(), f"{CHROMIUM} (Debian package chromium)")
    need((REPO / "node_modules" / "playwright-core").is_dir(), "node_modules/playwright-core")
    return binary


def _load_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kyso_demo_run", REPO / "demo" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def portal_port() -> Iterator[int]:
    """The demo portal, served by ``demo/run.py``'s own server on a free port.

    ``http://localhost:PORT`` is the allowed origin; ``http://127.0.0.1:PORT`` is the same
    server under an origin the agent does not allow.
    """
    servers = _load_demo().serve_portal(0)
    yield int(servers[0].server_address[1])
    for server in servers:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class Browser:
    """Runs scenarios of ``run.mjs`` in a fresh headless Chromium profile each time."""

    node: str
    home: Path
    root: Path
    agent: AgentProcess

    def run(
        self, scenario: str, *, extension: bool = True, timeout: float = 120, **job: Any
    ) -> Any:
        """One scenario; its value, or the test fails with the browser's output."""
        runs = sorted(self.root.glob("run-*"))
        work = self.root / f"run-{len(runs):03d}"
        work.mkdir()
        spec = {
            "scenario": scenario,
            "userDataDir": str(work / "profile"),
            "downloadDir": str(work),
            "agentPort": self.agent.port,
            **({"extension": str(EXTENSION)} if extension else {}),
            **job,
        }
        (work / "job.json").write_text(json.dumps(spec))
        done = subprocess.run(
            [self.node, str(RUNNER), str(work / "job.json")],
            capture_output=True,
            text=True,
            env={
                **os.environ,
                "HOME": str(self.home),
                # Chromium on Linux takes its UI language (chrome.i18n) from here.
                "LANGUAGE": spec.get("lang") or "vi",
                "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1",
            },
            cwd=REPO,
            timeout=timeout,
            check=False,
        )
        lines = done.stdout.strip().splitlines()
        assert done.returncode == 0 and lines, f"run.mjs failed:\n{done.stdout}\n{done.stderr}"
        result = json.loads(lines[-1])
        assert "failure" not in result, f"{result['failure']}\n--- browser:\n{done.stderr}"
        if extension:
            assert result["extensionUrl"].startswith(f"chrome-extension://{EXTENSION_ID}/")
        return result["value"]


def trusting_home(home: Path, ca_pem: Path) -> Path:
    """A HOME whose NSS database (where Chromium on Linux looks) trusts the agent's CA."""
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["certutil", "-N", "-d", f"sql:{nssdb}", "--empty-password"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            "certutil",
            "-A",
            "-d",
            f"sql:{nssdb}",
            "-n",
            "kyso-agent",
            "-t",
            "C,,",
            "-i",
            str(ca_pem),
        ],
        check=True,
        capture_output=True,
    )
    return home


@pytest.fixture(scope="module")
def bridge_agent(
    browser_tools: str,
    token: SessionToken,
    portal_port: int,
    tsa: LocalPki,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AgentProcess]:
    """The agent on its usual ports (8988-8998, the first free) allowing the portal's
    ``http://localhost:PORT`` origin, with ``tsa`` as its time-stamp server; the extension's
    pinned ID is trusted by default. Module-scoped: other tests need 8988 free."""
    running = start_agent(
        tmp_path_factory.mktemp("bridge-agent"),
        token.hsm,
        *("--allow-origin", f"http://localhost:{portal_port}"),
        *("--prompt-timeout", "20", "--lang", "vi"),
        policy={"cancel_backoff_seconds": 0, "tsa_url": tsa.tsa_url},
        port="",
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser(
    browser_tools: str, bridge_agent: AgentProcess, tmp_path_factory: pytest.TempPathFactory
) -> Browser:
    """Headless Chromium trusting the agent's local CA."""
    return browser_trusting(browser_tools, bridge_agent, tmp_path_factory.mktemp("browser"))


def browser_trusting(tools: str, agent: AgentProcess, root: Path) -> Browser:
    """Headless Chromium, its home in ``root``, trusting ``agent``'s local CA."""
    home = trusting_home(root / "home", agent.data_dir / "tls" / "ca.pem")
    return Browser(tools, home, root, agent)


@pytest.fixture(scope="module")
def portal_files(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test module's portal page (its ``PAGE``) and client script, in a folder to serve."""
    page: PortalPage = request.module.PAGE
    return page.write(tmp_path_factory.mktemp(f"{page.layer}-portal"))


@pytest.fixture(scope="module")
def portal(portal_files: Path) -> Iterator[Site]:
    """The test portal: its page under ``/static/``, download and upload handlers; the layer
    agent allows its origin exactly."""
    yield from serving(static=portal_files)


@pytest.fixture(scope="module")
def foreign(portal_files: Path) -> Iterator[Site]:
    """The same page and handlers on an origin the layer agent does not allow."""
    yield from serving(static=portal_files)


@pytest.fixture(scope="module")
def layer_agent(
    browser_tools: str,
    request: pytest.FixtureRequest,
    token: SessionToken,
    portal: Site,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AgentProcess]:
    """The agent with the layer of the module's ``PAGE``, allowing the portal's origin exactly,
    20 s to answer, in Vietnamese, without the cancel back-off."""
    page: PortalPage = request.module.PAGE
    yield from stopping(
        start_layer_agent(
            tmp_path_factory.mktemp(f"{page.layer}-browser-agent"),
            token.hsm,
            page.layer,
            portal.origin,
            prompt_timeout="20",
            lang="vi",
        )
    )


@pytest.fixture(scope="module")
def chromium(
    browser_tools: str, layer_agent: AgentProcess, tmp_path_factory: pytest.TempPathFactory
) -> Browser:
    """Headless Chromium trusting the layer agent's local CA."""
    return browser_trusting(browser_tools, layer_agent, tmp_path_factory.mktemp("layer-browser"))


def other_agents_below(port: int) -> list[int]:
    """Ports of 8988..PORT-1 where something answers: another agent the extension finds first."""
    busy = []
    for candidate in range(8988, port):
        try:
            urllib.request.urlopen(f"https://127.0.0.1:{candidate}/v1/info", timeout=1)
        except urllib.error.URLError as exc:
            if not isinstance(exc.reason, ConnectionRefusedError):
                busy.append(candidate)
        except OSError:
            busy.append(candidate)
        else:
            busy.append(candidate)
    return busy


def closed_while_asked(
    browser: Browser, agent: AgentProcess, url: str, script: str, release: Path, **job: Any
) -> tuple[dict[str, Any], list[str]]:
    """Run ``script`` (it starts a call that asks the user, and returns) in a tab at ``url``,
    close the tab once the user is asked, and keep the browser open until ``agent``'s dialog
    has closed: the question, and the audit rows written since. ``release`` is a file path the
    browser waits for; ``job``: more for ``run.mjs`` (``extension``)."""
    before = len(agent.audit_outcomes())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        closing = pool.submit(
            browser.run,
            "closeTab",
            url=url,
            script=script,
            waitFor=str(agent.prompter_dir / "requests.jsonl"),
            release=str(release),
            **job,
        )
        try:
            [question] = eventually(agent.prompts, 60, "the user was asked")
            # With the browser still open; well before the prompt timeout (20 s), which would
            # have ended it as CONSENT_TIMEOUT.
            eventually(lambda: not agent.open_dialogs(), 15, "the dialog closed with the tab")
            rows = eventually(lambda: agent.audit_outcomes()[before:], 15, "the question audited")
        finally:
            release.touch()
        assert closing.result(120) == {"closed": True}
    return question, rows
