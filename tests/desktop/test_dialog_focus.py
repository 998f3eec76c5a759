"""focus_report on the real dialog under Xvfb: the X11 side of agent/ui/win32_focus.py.

On Windows the report compares ``GetForegroundWindow`` with the dialog (tests/windows); here
it asks Tk whether the application has the keyboard, and which widget.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.desktop import screenshots

pytestmark = pytest.mark.desktop

#: Shows the dialog in this process, waits (5 s at most) for the expected report, prints the
#: last one and cancels.
_REPORT = """
import json, sys, time
from agent.ui.dialog import ConsentDialog
from agent.ui.dialog_model import describe, parse_question
from agent.ui.win32_focus import focus_report
dialog = ConsentDialog(describe(parse_question(json.loads(sys.argv[1]))), timeout=60)
deadline = time.monotonic() + 5
while time.monotonic() < deadline:
    dialog.root.update()
    report = focus_report(dialog.root)
    if report.focus_widget_class == sys.argv[2]:
        break
    time.sleep(0.05)
print(json.dumps([report.foreground_is_dialog, report.focus_widget_class]))
dialog.cancel()
"""


@pytest.mark.parametrize(
    ("state", "expected"), [("sign-single", "TEntry"), ("pinpad", "Kysoagent")]
)
def test_the_dialog_reports_the_keyboard_in_its_pin_field(
    xvfb: str, state: str, expected: str
) -> None:
    question = dict(screenshots.STATES[state], lang="vi")
    shown = subprocess.run(
        [sys.executable, "-c", _REPORT, json.dumps(question), expected],
        env={"DISPLAY": xvfb, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    # Without a PIN field (a PIN pad reader) the window itself (Tk class Kysoagent) has it.
    assert json.loads(shown.stdout) == [True, expected]
