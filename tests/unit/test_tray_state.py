"""The tray's state, tooltip and icons, from inventories built in memory (no token, no display)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from agent.messages import Lang
from agent.pin import TriesLeft
from agent.testing.softhsm import TestCa, vn_name
from agent.token import Inventory, ModuleReport, PinState, TokenCertificate, TokenId, TokenInfo
from agent.token.monitor import diff, expiring_certificates
from agent.ui.icons import SIZE, icon_image
from agent.ui.tray_state import AgentHealth, TrayState, derive_state, latin1_title, tooltip

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
CA = TestCa.create("Tray Test CA")


def cert_for(
    token: TokenId, name: str, days: float, pin: PinState, key_id: bytes = b"\x01"
) -> TokenCertificate:
    key = ec.generate_private_key(ec.SECP256R1())
    x509_cert = CA.issue(
        key.public_key(),
        vn_name(name, "UBND"),
        not_before=NOW - timedelta(days=300),
        not_after=NOW + timedelta(days=days),
    )
    return TokenCertificate(
        der=x509_cert.public_bytes(serialization.Encoding.DER),
        token=token,
        key_id=key_id,
        label=name,
        pin=pin,
    )


def inventory(
    *certs_days: float,
    label: str = "TOKEN-A",
    tries: TriesLeft = TriesLeft.OK,
    serial: str = "0001",
) -> Inventory:
    pin = PinState(tries, pinpad=False)
    token_id = TokenId(MODULE, 1, serial, label)
    info = TokenInfo(token_id, "SoftHSM", "test", pin, "slot")
    certs = tuple(
        cert_for(token_id, f"Người {i}", days, pin, bytes([i + 1]))
        for i, days in enumerate(certs_days)
    )
    return Inventory((ModuleReport(MODULE, True, tokens=(info,), certificates=certs),))


EMPTY = Inventory((ModuleReport(MODULE, True),))
UP = AgentHealth(running=True)


def test_no_token_when_the_module_shows_none() -> None:
    assert derive_state(EMPTY, UP, NOW) is TrayState.NO_TOKEN
    assert derive_state(None, UP, NOW) is TrayState.NO_TOKEN


def test_ready_with_a_certificate_valid_for_long() -> None:
    assert derive_state(inventory(400), UP, NOW) is TrayState.READY


def test_expiring_within_30_days() -> None:
    assert derive_state(inventory(10), UP, NOW) is TrayState.EXPIRING
    assert derive_state(inventory(30), UP, NOW) is TrayState.EXPIRING
    assert derive_state(inventory(31), UP, NOW) is TrayState.READY


def test_an_old_certificate_next_to_its_renewal_is_not_a_warning() -> None:
    # Same holder twice would need the same name; different holders each count.
    renewed = inventory(-10, 400)
    assert [days for _, days in expiring_certificates(renewed, NOW)] == [-10]
    assert derive_state(inventory(400, 400), UP, NOW) is TrayState.READY


def test_pin_locked_wins_over_expiring() -> None:
    assert derive_state(inventory(10, tries=TriesLeft.LOCKED), UP, NOW) is TrayState.PIN_LOCKED


def test_agent_error_wins_over_everything() -> None:
    failed = AgentHealth(running=False, error="cannot listen")
    assert derive_state(inventory(400), failed, NOW) is TrayState.ERROR


def test_no_module_loaded_is_an_error() -> None:
    broken = Inventory((ModuleReport(MODULE, False, error="OSError"),))
    assert derive_state(broken, UP, NOW) is TrayState.ERROR


@pytest.mark.parametrize(
    ("lang", "ready", "none"),
    [(Lang.VI, "Sẵn sàng ký số", "Chưa cắm USB token"), (Lang.EN, "Ready to sign", "No token")],
)
def test_tooltip_names_state_and_token(lang: Lang, ready: str, none: str) -> None:
    tip = tooltip(TrayState.READY, inventory(400), UP, NOW, lang)
    assert tip.startswith(f"Kyso Agent — {ready}")
    assert "TOKEN-A" in tip
    assert none in tooltip(TrayState.NO_TOKEN, EMPTY, UP, NOW, lang)


def test_tooltip_of_expiring_says_how_many_days() -> None:
    tip = tooltip(TrayState.EXPIRING, inventory(10), UP, NOW, Lang.VI)
    assert "Người 0: còn 10 ngày" in tip
    tip = tooltip(TrayState.EXPIRING, inventory(10), UP, NOW, Lang.EN)
    assert "10 days left" in tip


def test_tooltip_fits_the_windows_limit() -> None:
    many = inventory(*([5] * 12))
    assert len(tooltip(TrayState.EXPIRING, many, UP, NOW, Lang.VI)) <= 127


def test_latin1_title_keeps_the_sense() -> None:
    title = latin1_title("Kyso Agent — Sẵn sàng ký số\nĐã cắm")
    assert title == "Kyso Agent - San sang ky so | Da cam"
    title.encode("latin-1")


def test_every_state_has_its_own_icon() -> None:
    images = {state: icon_image(state) for state in TrayState}
    assert all(im.size == (SIZE, SIZE) and im.mode == "RGBA" for im in images.values())
    assert len({im.tobytes() for im in images.values()}) == len(TrayState)


def test_diff_finds_inserted_and_removed_tokens() -> None:
    a = inventory(400, label="A", serial="1")
    b = inventory(400, label="B", serial="2")
    inserted, removed = diff(a, b)
    assert [t.id.label for t in inserted] == ["B"]
    assert [t.id.label for t in removed] == ["A"]
    assert diff(a, a) == ((), ())
