"""Every plugin layer starts with the agent, on the port it was given, and the status report
lists where each one listens; policy turns each one off."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import LAYER_NAMES, SessionToken, start_agent
from tests.integration.test_status import page

pytestmark = pytest.mark.integration


def test_every_layer_listens_and_the_status_report_says_where(
    token: SessionToken, tmp_path: Path
) -> None:
    running = start_agent(tmp_path, token.hsm, layers=LAYER_NAMES)
    try:
        assert set(running.layer_ports) == set(LAYER_NAMES)
        response = page(running, "/status.json")
        assert response.status == 200
        listeners = {item["name"]: item for item in response.json["listeners"]}
        for name, port in running.layer_ports.items():
            scheme = "https" if name == "fpt" else "wss"
            assert listeners[name]["url"] == f"{scheme}://127.0.0.1:{port}"
            assert listeners[name]["enabled"] is True
    finally:
        running.stop()


def test_policy_turns_a_layer_off_and_the_report_says_so(
    token: SessionToken, tmp_path: Path
) -> None:
    running = start_agent(
        tmp_path,
        token.hsm,
        layers=("vgca", "fpt"),
        policy={"vnpt_enabled": False, "bkav_enabled": False},
    )
    try:
        assert set(running.layer_ports) == {"vgca", "fpt"}
        report = page(running, "/status.json").json
        listeners = {item["name"]: item for item in report["listeners"]}
        assert listeners["vnpt"] == {
            "name": "vnpt",
            "product": "VNPT-CA Plugin",
            "enabled": False,
            "url": None,
            "held": [],
        }
        assert listeners["bkav"]["enabled"] is False
        text = page(running, "/", **{"Accept-Language": "en"}).body.decode()
        assert "VNPT-CA Plugin: turned off by machine policy" in text
        assert f"FPT SignPlugin: https://127.0.0.1:{running.layer_ports['fpt']}" in text
        assert "vnpt listening" not in running.stderr_path.read_text()
        json.dumps(report)  # plain JSON
    finally:
        running.stop()
