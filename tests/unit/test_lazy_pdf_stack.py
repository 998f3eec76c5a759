"""The agent starts without the PDF stack: pyHanko, fontTools and Pillow load with the first
PDF request (start-up time and idle memory, docs/performance.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PDF_STACK = ("pyhanko", "pyhanko_certvalidator", "fontTools", "PIL", "pypdfium2")

# A fresh interpreter builds what `kyso-agent serve` builds before it listens.
_BUILD = """
import json, sys
from pathlib import Path
from agent.app import make_service, server_settings
from agent.cli import build_parser
from agent.config import load_config
from agent.server import create_app
from agent.testing.prompter import ScriptedPrompter
from agent.token import TokenService

data = Path(sys.argv[1])
config = load_config({"data_dir": str(data)}, policy={}, user_config_file=data / "none.toml")
build_parser()
tokens = TokenService([data / "no-such-module.so"])
create_app(make_service(config, tokens, ScriptedPrompter()), server_settings(config))
tokens.close()
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in sys.argv[2:])))
"""


def test_building_the_server_loads_no_part_of_the_pdf_stack(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _BUILD, str(tmp_path), *PDF_STACK],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
