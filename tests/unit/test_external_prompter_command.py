"""How a ``--prompter`` command line is split into a program and its arguments."""

from __future__ import annotations

from agent.consent.external import split_command


def test_posix_command_lines_follow_the_shell() -> None:
    assert split_command("/usr/bin/python3 -m 'my prompter' --x", windows=False) == [
        "/usr/bin/python3",
        "-m",
        "my prompter",
        "--x",
    ]


def test_windows_paths_keep_their_backslashes_and_lose_their_quotes() -> None:
    command = r'"C:\Program Files\Kyso Agent\python.exe" -m agent.testing.prompter C:\Temp\p'
    assert split_command(command, windows=True) == [
        r"C:\Program Files\Kyso Agent\python.exe",
        "-m",
        "agent.testing.prompter",
        r"C:\Temp\p",
    ]
