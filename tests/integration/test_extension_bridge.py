"""The browser extension as a trusted bridge, through the real server.

Requests are made here exactly as the extension's service worker makes them: the Origin is
``chrome-extension://<id>`` and ``Kyso-Page-Origin`` names the tab's origin. The browser
itself is driven in tests/browser/.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from agent.origin import DEV_EXTENSION_ID
from tests.conftest import (
    PIN,
    PORTAL,
    AgentProcess,
    Response,
    SessionToken,
    run_cli,
    start_agent,
)
from tests.verify import b64

pytestmark = pytest.mark.integration

EXTENSION = f"chrome-extension://{DEV_EXTENSION_ID}"
OTHER_EXTENSION = "chrome-extension://" + "a" * 32
HASH = {"hash": b64(hashlib.sha256(b"to-trinh").digest()), "hashAlgorithm": "SHA-256"}


def relayed(agent: AgentProcess, page: str | None, origin: str = EXTENSION) -> Response:
    headers = {} if page is None else {"Kyso-Page-Origin": page}
    body = {**HASH, "documentName": "TT-1.pdf"}
    return agent.post("/v1/sign", body, origin=origin, headers=headers)


def test_the_page_origin_named_by_the_extension_is_the_one_asked_about(
    fresh: AgentProcess,
) -> None:
    fresh.script({"approved": True, "pin": PIN})
    response = relayed(fresh, PORTAL)
    assert response.status == 200, response.body[:300]
    [prompt] = fresh.prompts()
    assert prompt["origin"] == PORTAL
    audit = run_cli("audit", "--json", "--data-dir", str(fresh.data_dir))
    assert json.loads(audit.stdout)["entries"][-1]["origin"] == PORTAL


def test_a_page_not_on_the_allow_list_is_refused_through_the_extension_too(
    fresh: AgentProcess,
) -> None:
    response = relayed(fresh, "https://evil.example.com")
    assert response.error_code == "ORIGIN_NOT_ALLOWED"
    assert fresh.prompts() == []


@pytest.mark.parametrize(
    ("origin", "page"),
    [
        (EXTENSION, None),  # a relayed POST must name its page
        (OTHER_EXTENSION, PORTAL),  # another extension is not a bridge
        ("moz-extension://" + DEV_EXTENSION_ID, PORTAL),
    ],
    ids=["no-page", "unknown-extension", "other-scheme"],
)
def test_relays_that_cannot_be_trusted_are_refused_before_asking(
    fresh: AgentProcess, origin: str, page: str | None
) -> None:
    response = relayed(fresh, page, origin)
    assert (response.status, response.error_code) == (403, "ORIGIN_NOT_ALLOWED")
    assert fresh.prompts() == []


def test_a_web_page_cannot_borrow_the_header(fresh: AgentProcess) -> None:
    # From an ordinary origin the header means nothing: the Origin itself is asked about.
    fresh.script({"approved": False})
    relayed(fresh, "https://other.tinh.gov.vn", origin=PORTAL)
    [prompt] = fresh.prompts()
    assert prompt["origin"] == PORTAL
    # And a browser could not send it cross-origin: the preflight refuses the header.
    preflight = fresh.request(
        "OPTIONS",
        "/v1/sign",
        headers={
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, kyso-page-origin",
        },
    )
    assert preflight.status == 400


def test_the_popup_may_read_info_without_a_page(fresh: AgentProcess) -> None:
    response = fresh.request("GET", "/v1/info", origin=EXTENSION)
    assert response.status == 200
    assert response.json["product"] == "kyso-agent"
    assert response.headers["Access-Control-Allow-Origin"] == EXTENSION


def test_no_extension_is_trusted_when_the_list_is_empty(
    token: SessionToken, tmp_path: Path
) -> None:
    config = tmp_path / "no-extension.toml"
    config.write_text("extension_ids = []\n")
    running = start_agent(tmp_path / "agent", token.hsm, "--config", str(config))
    try:
        response = relayed(running, PORTAL)
        assert response.error_code == "ORIGIN_NOT_ALLOWED"
        assert running.prompts() == []
    finally:
        running.stop()


def test_the_extension_reads_the_status_report_but_never_for_a_page(
    fresh: AgentProcess,
) -> None:
    own = fresh.request("GET", "/status.json", origin=EXTENSION)
    assert own.status == 200
    assert own.json["tokens"][0]["label"] == "KYSO-TEST"
    for_page = fresh.request(
        "GET", "/status.json", origin=EXTENSION, headers={"Kyso-Page-Origin": PORTAL}
    )
    assert for_page.error_code == "ORIGIN_NOT_ALLOWED"
    assert fresh.request("GET", "/", origin=EXTENSION).error_code == "ORIGIN_NOT_ALLOWED"
    stranger = fresh.request("GET", "/status.json", origin=OTHER_EXTENSION)
    assert stranger.error_code == "ORIGIN_NOT_ALLOWED"
