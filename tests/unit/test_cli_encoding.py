"""The command line's output to a pipe or file is UTF-8, whatever the system's code page."""

from __future__ import annotations

import io
import json

from agent.cli import utf8_when_redirected


def test_a_redirected_stream_in_a_code_page_becomes_utf8() -> None:
    # What Python gives a pipe on Windows: the ANSI code page (here cp1252, which has no "ă").
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="cp1252")
    utf8_when_redirected([stream])
    json.dump({"holder": "Lê Văn Cường"}, stream, ensure_ascii=False)
    stream.flush()
    assert json.loads(raw.getvalue().decode("utf-8")) == {"holder": "Lê Văn Cường"}


def test_utf8_streams_and_absent_ones_are_left_alone() -> None:
    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    utf8_when_redirected([stream, None])
    assert stream.encoding == "utf-8"
