"""The test portal's page for a plugin layer's browser test: ``portal.html``, which loads the
layer's vendor-style client (``tests/browser/NAME/NAME-client.js``), served with it under
``/static/`` by :func:`tests.vgca_portal.serving` on the portal's and a foreign origin."""

from __future__ import annotations

import html
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.conftest import PIN

if TYPE_CHECKING:
    from tests.browser.conftest import Browser
    from tests.conftest import AgentProcess
    from tests.vgca_portal import Site

HERE = Path(__file__).parent

PAGE = """<!doctype html>
<html lang="vi">
<head>
  <meta charset="utf-8">
  <title>Cổng thử nghiệm {protocol}</title>
  <script src="{client}"></script>
</head>
<body>
  <h1>Cổng thử nghiệm (giao thức {protocol})</h1>
  <p>Trang này gọi Kyso Agent như một cổng dùng <code>{library}</code>; các bước ký do
  bài kiểm thử điều khiển qua <code>window.{handle}</code>.</p>
  <pre id="log"></pre>
</body>
</html>
"""


@dataclass(frozen=True)
class PortalPage:
    """A test module's portal page (its ``PAGE``), for one plugin layer."""

    layer: str
    """The layer the agent runs (``--NAME-port``); its folder holds ``NAME-client.js``."""
    protocol: str
    """The vendor's protocol, as the page's title names it."""
    library: str
    """The vendor's JavaScript library, which the client speaks as."""
    handle: str
    """The client's global (``window.NAME``), through which the test drives the page."""

    @property
    def client(self) -> Path:
        """The layer's client script."""
        return HERE / self.layer / f"{self.layer}-client.js"

    def write(self, folder: Path) -> Path:
        """``folder`` with ``portal.html`` and the client script in it, to serve as it is."""
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.client, folder / self.client.name)
        page = PAGE.format(
            protocol=html.escape(self.protocol),
            client=html.escape(self.client.name),
            library=html.escape(self.library),
            handle=html.escape(self.handle),
        )
        (folder / "portal.html").write_text(page, "utf-8")
        return folder


def run_in_page(chromium: Browser, site: Site, script: str) -> Any:
    """``script`` (an async function's body) run in the portal page as ``site`` serves it, in
    headless Chromium without the extension; its value."""
    return chromium.run("eval", extension=False, url=site.url("/static/portal.html"), script=script)


def run_unasked(chromium: Browser, agent: AgentProcess, site: Site, script: str) -> Any:
    """``script`` run in the portal page as ``site`` (another origin) serves it, while ``agent``
    would approve with the PIN: no question reaches the user (asserted); the script's value."""
    agent.script({"approved": True, "pin": PIN})
    result = run_in_page(chromium, site, script)
    assert agent.prompts() == [], "a page of another origin reached the question"
    return result
