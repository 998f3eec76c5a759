"""The token monitor against real SoftHSM tokens: plugged in and pulled out, noticed within 2 s.

SoftHSM has no hot-plug: a token initialised or deleted by ``softhsm2-util`` in
another process stands in for a USB token plugged in or pulled out.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from agent.testing.softhsm import KeySpec, SoftHsm, TokenSpec, new_token
from agent.token import Inventory, Isolation, TokenService
from agent.token.module import Pkcs11Module
from agent.token.monitor import TokenEvent, TokenEventKind, TokenMonitor

pytestmark = pytest.mark.integration

PIN = "246810"


@pytest.fixture
def hsm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SoftHsm:
    made, _ = new_token(
        tmp_path,
        TokenSpec(
            "MON-A",
            PIN,
            keys=(
                KeySpec("01", "EC", "Nguyễn Văn An", valid_days=10),
                KeySpec("02", "EC", "Trần Thị Bình", valid_days=400),
            ),
        ),
    )
    monkeypatch.setenv("SOFTHSM2_CONF", str(made.conf))
    return made


def softhsm_util(hsm: SoftHsm, *args: str) -> None:
    subprocess.run(["softhsm2-util", *args], env=hsm.environ(), check=True, capture_output=True)


class Seen:
    def __init__(self) -> None:
        self.calls: list[tuple[Inventory, Sequence[TokenEvent]]] = []

    def __call__(self, inventory: Inventory, events: Sequence[TokenEvent]) -> None:
        self.calls.append((inventory, list(events)))

    def events(self, kind: TokenEventKind) -> list[TokenEvent]:
        return [e for _, events in self.calls for e in events if e.kind is kind]


async def wait_for(seen: Seen, kind: TokenEventKind, timeout: float) -> float:
    start = time.monotonic()
    while not seen.events(kind):
        if time.monotonic() - start > timeout:
            raise AssertionError(f"no {kind} event within {timeout} s: {seen.calls}")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


async def test_removal_and_insertion_are_noticed_within_two_seconds(hsm: SoftHsm) -> None:
    tokens = TokenService([hsm.module])
    seen = Seen()
    task = asyncio.create_task(TokenMonitor(tokens, seen).run())
    try:
        while not seen.calls:
            await asyncio.sleep(0.05)
        first, events = seen.calls[0]
        assert [t.id.label for t in first.tokens] == ["MON-A"]
        assert not [e for e in events if e.kind is not TokenEventKind.EXPIRING]

        softhsm_util(hsm, "--delete-token", "--token", "MON-A")
        assert await wait_for(seen, TokenEventKind.REMOVED, 2.0) <= 2.0
        assert seen.calls[-1][0].tokens == ()

        softhsm_util(
            hsm, "--init-token", "--free", "--label", "MON-B", "--so-pin", "12345678", "--pin", PIN
        )
        assert await wait_for(seen, TokenEventKind.INSERTED, 2.0) <= 2.0
        inserted = seen.events(TokenEventKind.INSERTED)
        assert [e.token.id.label for e in inserted] == ["MON-B"]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        tokens.close()


async def test_a_second_token_removed_leaves_the_first_alone(hsm: SoftHsm) -> None:
    softhsm_util(
        hsm, "--init-token", "--free", "--label", "MON-C", "--so-pin", "12345678", "--pin", PIN
    )
    tokens = TokenService([hsm.module])
    seen = Seen()
    monitor = TokenMonitor(tokens, seen)
    try:
        await monitor.poll_once()
        assert sorted(t.id.label for t in seen.calls[0][0].tokens) == ["MON-A", "MON-C"]
        softhsm_util(hsm, "--delete-token", "--token", "MON-C")
        for _ in range(2):
            await monitor.poll_once()
        assert [e.token.id.label for e in seen.events(TokenEventKind.REMOVED)] == ["MON-C"]
        assert seen.events(TokenEventKind.INSERTED) == []
        assert monitor.inventory is not None
        assert [t.id.label for t in monitor.inventory.tokens] == ["MON-A"]
    finally:
        tokens.close()


async def test_polling_reads_certificates_only_when_tokens_change(
    hsm: SoftHsm, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    original = Pkcs11Module._certificates  # noqa: SLF001 - counting the expensive call

    def counting(self: Pkcs11Module, token: object, info: object) -> object:
        reads.append("read")
        return original(self, token, info)  # type: ignore[arg-type]

    monkeypatch.setattr(Pkcs11Module, "_certificates", counting)
    # The counter patches this process's module class: the worker must run in-process.
    tokens = TokenService([hsm.module], Isolation.THREAD)
    seen = Seen()
    monitor = TokenMonitor(tokens, seen, rescan_interval=2.0, interval=1.0)
    try:
        for _ in range(5):  # includes a forced rescan (re-initialisation)
            await monitor.poll_once()
        assert reads == ["read"]
        assert len(seen.calls) == 1  # nothing changed after the first poll
    finally:
        tokens.close()


async def test_expiring_certificate_is_announced_once(hsm: SoftHsm) -> None:
    tokens = TokenService([hsm.module])
    seen = Seen()
    monitor = TokenMonitor(tokens, seen)
    try:
        first = await monitor.poll_once()
        second = await monitor.poll_once()
    finally:
        tokens.close()
    expiring = [e for e in first if e.kind is TokenEventKind.EXPIRING]
    assert [(e.days_left, e.certificate is not None) for e in expiring] == [(10, True)]
    assert second == []
