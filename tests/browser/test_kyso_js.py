"""kyso.js and the extension's scripts under Node's own test runner (``node --test``)."""

from __future__ import annotations

import subprocess

from tests.browser.conftest import EXTENSION, REPO, node


def test_node_unit_tests_of_kyso_js_and_the_extension_pass() -> None:
    done = subprocess.run(
        [node(), "--test", str(EXTENSION / "test")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "# fail 0" in done.stdout
    assert "# pass 0" not in done.stdout
