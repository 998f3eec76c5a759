"""One login for many signatures, without a token: the requests that cross to a module's
worker (the PIN out of band, as for every Sign) and :func:`agent.token.held.one_login`'s
bookkeeping against a scripted token layer. SoftHSM runs them for real in
tests/integration/test_held_login.py.
"""

from __future__ import annotations

import asyncio
import io
import logging
import pickle
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

from agent.algorithms import HashAlgorithm, RsaScheme
from agent.child import channel
from agent.errors import PinIncorrect, TokenFailure, TokenModuleFailed, TokenNotPresent
from agent.isolation import WorkerLimits
from agent.pin import Login, Pin, TriesLeft
from agent.token.calls import (
    REQUEST_TYPES,
    Release,
    Sign,
    SignHeld,
    execute,
    sign_request,
    typed_signatures,
)
from agent.token.held import one_login
from agent.token.models import PinState, TokenCertificate, TokenId
from agent.token.module import Pkcs11Module
from agent.token.process import ProcessWorker, deadline

PIN = b"80471326"
CERT = TokenCertificate(
    der=b"not parsed here",
    token=TokenId(Path("/fake/vendor.so"), 1, "SERIAL1", "VGCA token"),
    key_id=b"\x01",
    label="sig",
    pin=PinState(TriesLeft.OK, pinpad=False),
)
ITEMS = ((bytes(32), HashAlgorithm.SHA256),)


# --- the requests ----------------------------------------------------------------------------


@pytest.mark.parametrize("step", [None, 0.5])
def test_a_keeping_sign_carries_its_pin_out_of_band_and_keep_across_the_pipe(
    step: float | None,
) -> None:
    login = Login(Pin(PIN.decode()))
    request = sign_request(CERT, ITEMS, RsaScheme.PKCS1V15, login, keep=True, step=step)
    assert request.keep
    assert PIN.decode() not in repr(request)
    assert "80471326" not in repr(SignHeld(CERT, ITEMS, RsaScheme.PKCS1V15))
    frame = channel.encode(request)
    size, count = struct.unpack_from(">II", frame)
    assert PIN not in bytes(frame[8 : 8 + size])
    assert count == 1
    received = channel.receive(io.BytesIO(bytes(frame)))
    assert isinstance(received, Sign)
    assert received.pin == bytearray(PIN)
    assert received.keep
    assert received.step == step
    assert received.certificate == CERT
    assert received.items == ITEMS


def test_a_sign_keeps_nothing_unless_asked() -> None:
    request = sign_request(CERT, ITEMS, RsaScheme.PKCS1V15, Login(Pin(PIN.decode())))
    received = channel.receive(io.BytesIO(bytes(channel.encode(request))))
    assert isinstance(received, Sign)
    assert not received.keep


@pytest.mark.parametrize(
    "request_",
    [
        SignHeld(CERT, ITEMS, RsaScheme.PSS),
        SignHeld(CERT, ITEMS, RsaScheme.PKCS1V15, step=0.5),
        Release(CERT),
        Release(),
    ],
    ids=["sign-held", "sign-held-step", "release", "release-any"],
)
def test_held_requests_cross_the_pipe_whole_and_carry_no_secret(request_: object) -> None:
    frame = channel.encode(request_)
    _size, count = struct.unpack_from(">II", frame)
    assert count == 0  # nothing out of band: there is no PIN to carry
    assert channel.receive(io.BytesIO(bytes(frame))) == request_
    assert pickle.loads(pickle.dumps(request_)) == request_  # noqa: S301 - our own pickle
    assert isinstance(request_, REQUEST_TYPES)  # the worker process accepts it


def test_a_held_signature_has_a_signing_deadline_without_the_keypad_allowance() -> None:
    limits = WorkerLimits()
    items = ITEMS * 10
    pinpad_sign = Sign(CERT, items, RsaScheme.PKCS1V15, None)
    held = SignHeld(CERT, items, RsaScheme.PKCS1V15)
    assert deadline(limits, held) == limits.sign_timeout + 10 * limits.sign_timeout_per_item
    assert deadline(limits, pinpad_sign) == deadline(limits, held) + limits.pinpad_timeout
    assert deadline(limits, Release()) == limits.call_timeout


def test_a_step_has_the_deadline_of_its_seconds_and_the_signature_under_way() -> None:
    limits = WorkerLimits()
    step = SignHeld(CERT, ITEMS * 1000, RsaScheme.PKCS1V15, step=0.5)
    assert deadline(limits, step) == limits.sign_timeout + 0.5 + limits.sign_timeout_per_item
    # A step of fewer items than it has time for: no longer than signing them all.
    last = SignHeld(CERT, ITEMS, RsaScheme.PKCS1V15, step=10.0)
    assert deadline(limits, last) == limits.sign_timeout + limits.sign_timeout_per_item
    first = Sign(CERT, ITEMS * 1000, RsaScheme.PKCS1V15, None, step=0.5)
    assert deadline(limits, first) == deadline(limits, step) + limits.pinpad_timeout


@pytest.mark.parametrize(
    ("value", "count", "step", "accepted"),
    [
        ([b"s"] * 3, 3, None, True),
        ([b"s"] * 2, 3, None, False),  # a plain call answers every item
        ([b"s"] * 2, 3, 0.5, True),  # a step answers the first ones
        ([], 3, 0.5, False),  # one at least: a step that signs nothing would never end
        ([b"s"] * 4, 3, 0.5, False),
        ([], 0, 0.5, True),
        (["s"], 1, 0.5, False),
        ("ss", 2, None, False),
    ],
)
def test_the_signatures_a_worker_answers_are_checked_before_use(
    value: object, count: int, step: float | None, accepted: bool
) -> None:
    if accepted:
        assert typed_signatures(value, count, step=step) == value
    else:
        with pytest.raises(TokenFailure):
            typed_signatures(value, count, step=step)


@dataclass
class RecordingModule:
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def sign(self, *args: Any, keep: bool, step: float | None) -> list[bytes]:
        certificate, items, _scheme, login = args
        assert login.pin is not None
        self.calls.append(("sign", certificate, items, login.pin.reveal(), keep, step))
        return [b"first"]

    def sign_held(self, *args: Any, step: float | None) -> list[bytes]:
        self.calls.append(("sign_held", *args, step))
        return [b"held"]

    def release(self, certificate: TokenCertificate | None) -> None:
        self.calls.append(("release", certificate))


def test_execute_hands_each_held_request_to_the_module() -> None:
    module = RecordingModule()
    run = cast(Pkcs11Module, module)
    secret = bytearray(PIN)
    assert execute(run, Sign(CERT, ITEMS, RsaScheme.PKCS1V15, secret, keep=True)) == [b"first"]
    assert secret == bytearray()  # wiped once read
    assert execute(run, SignHeld(CERT, ITEMS, RsaScheme.PSS)) == [b"held"]
    assert execute(run, SignHeld(CERT, ITEMS, RsaScheme.PSS, step=0.5)) == [b"held"]
    assert execute(run, Release(CERT)) is None
    assert execute(run, Release()) is None
    assert module.calls == [
        ("sign", CERT, ITEMS, PIN, True, None),
        ("sign_held", CERT, ITEMS, RsaScheme.PSS, None),
        ("sign_held", CERT, ITEMS, RsaScheme.PSS, 0.5),
        ("release", CERT),
        ("release", None),
    ]


def test_a_release_without_a_worker_process_starts_none(tmp_path: Path) -> None:
    # No child holds anything: releasing must not start one (a module that cannot even
    # load would fail the release, and every batch ends with one).
    worker = ProcessWorker(tmp_path / "missing.so")
    try:
        assert worker.call_sync(Release(CERT)) is None
        assert asyncio.run(worker.call(Release(CERT))) is None
        assert worker._child is None  # noqa: SLF001 - whether a child was started is the point
    finally:
        worker.close()


# --- one_login against a scripted token layer ------------------------------------------------


@dataclass
class ScriptedTokens:
    """A token layer that records what it was asked and fails the first login on cue."""

    calls: list[str] = field(default_factory=list)
    login_errors: list[Exception] = field(default_factory=list)
    release_error: Exception | None = None
    release_gate: asyncio.Event | None = None
    released: int = 0
    held: TokenCertificate | None = None
    pins: list[bytes | None] = field(default_factory=list)

    async def inventory(self) -> Any:
        raise AssertionError("not asked")

    async def pin_state(self, token: TokenId) -> PinState:
        raise AssertionError("not asked")

    async def sign(
        self,
        certificate: TokenCertificate,
        items: Sequence[tuple[bytes, HashAlgorithm]],
        scheme: RsaScheme,
        login: Login,
        *,
        keep: bool = False,
        step: float | None = None,
    ) -> list[bytes]:
        self.calls.append(f"sign keep={keep}" + ("" if step is None else f" step={step}"))
        self.pins.append(None if login.pin is None else login.pin.reveal())
        await asyncio.sleep(0.01)  # long enough for a concurrent call to arrive meanwhile
        if self.login_errors:
            raise self.login_errors.pop(0)
        if keep:
            self.held = certificate
        return self._step(b"s", items, step)

    async def sign_held(
        self,
        certificate: TokenCertificate,
        items: Sequence[tuple[bytes, HashAlgorithm]],
        scheme: RsaScheme,
        *,
        step: float | None = None,
    ) -> list[bytes]:
        self.calls.append("sign_held" + ("" if step is None else f" step={step}"))
        if self.held != certificate:
            raise TokenFailure("no login is held")
        return self._step(b"h", items, step)

    def _step(self, mark: bytes, items: Sequence[object], step: float | None) -> list[bytes]:
        """What the module answers: all of ``items``, or for a step up to two of them (a
        token that signs two in a step), logging out with the last."""
        if step is None:
            return [mark] * len(items)
        count = min(2, len(items))
        if count == len(items):
            self.held = None
        return [mark] * count

    async def release(self, certificate: TokenCertificate) -> None:
        self.calls.append("release")
        if self.release_gate is not None:
            await self.release_gate.wait()
        if self.release_error is not None:
            raise self.release_error
        self.held = None
        self.released += 1


async def test_steps_sign_the_first_items_and_the_last_step_ends_the_login_itself() -> None:
    tokens = ScriptedTokens()
    work = [(bytes(32), HashAlgorithm.SHA256)] * 5
    signatures: list[bytes] = []
    async with one_login(tokens, CERT, RsaScheme.PKCS1V15, Login(Pin("1111"))) as sign:
        while len(signatures) < len(work):
            signatures += await sign(work[len(signatures) :], step=0.5)
        with pytest.raises(TokenFailure):
            await sign(work[:1])  # the login ended with the last step
    assert signatures == [b"s", b"s", b"h", b"h", b"h"]
    assert tokens.calls == ["sign keep=True step=0.5", "sign_held step=0.5", "sign_held step=0.5"]
    assert tokens.released == 0, "no release round trip: the module logged out with the last step"


async def test_a_step_that_fails_keeps_the_release_when_the_block_ends() -> None:
    tokens = ScriptedTokens()
    work = [(bytes(32), HashAlgorithm.SHA256)] * 5
    with pytest.raises(TokenFailure):
        async with one_login(tokens, CERT, RsaScheme.PKCS1V15, Login(Pin("1111"))) as sign:
            await sign(work, step=0.5)
            tokens.held = None  # the module lost the login: the next step fails
            await sign(work[2:], step=0.5)
    assert tokens.calls[-1] == "release"


async def test_the_first_call_logs_in_and_keeps_later_ones_sign_held() -> None:
    tokens = ScriptedTokens()
    login = Login(Pin(PIN.decode()))
    async with one_login(tokens, CERT, RsaScheme.PKCS1V15, login) as sign:
        assert await sign(ITEMS) == [b"s"]
        for _ in range(3):
            assert await sign(ITEMS * 2) == [b"h", b"h"]
    assert tokens.calls == ["sign keep=True", "sign_held", "sign_held", "sign_held", "release"]
    assert tokens.pins == [PIN]
    assert tokens.held is None


async def test_calls_at_once_log_in_once() -> None:
    tokens = ScriptedTokens()
    async with one_login(tokens, CERT, RsaScheme.PKCS1V15, Login(Pin("1111"))) as sign:
        results = await asyncio.gather(*(sign(ITEMS) for _ in range(4)))
    assert sorted(results) == [[b"h"], [b"h"], [b"h"], [b"s"]]
    assert tokens.calls.count("sign keep=True") == 1


async def test_a_block_that_signs_nothing_releases_nothing() -> None:
    tokens = ScriptedTokens()
    async with one_login(tokens, CERT, RsaScheme.PKCS1V15, Login(Pin("1111"))):
        pass
    assert tokens.calls == []


async def test_a_refused_pin_is_raised_unchanged_and_never_tried_again() -> None:
    refused = PinIncorrect("login: token refused the PIN")
    tokens = ScriptedTokens(login_errors=[refused])
    async with one_login(tokens, CERT, RsaScheme.PKCS1V15, Login(Pin("0000"))) as sign:
        with pytest.raises(PinIncorrect) as first:
            await sign(ITEMS)
        assert first.value is refused
        with pytest.raises(PinIncorrect, match="not trying it again"):
            await sign(ITEMS)
    assert tokens.calls == ["sign keep=True", "release"]


async def test_a_first_call_that_failed_otherwise_logs_in_on_the_next() -> None:
    tokens = ScriptedTokens(login_errors=[TokenNotPresent("pulled out")])
    async with one_login(tokens, CERT, RsaScheme.PKCS1V15, Login(Pin("1111"))) as sign:
        with pytest.raises(TokenNotPresent):
            await sign(ITEMS)
        assert await sign(ITEMS) == [b"s"]
        assert await sign(ITEMS) == [b"h"]
    assert tokens.calls == ["sign keep=True", "sign keep=True", "sign_held", "release"]


async def test_an_error_in_the_block_releases_and_stands() -> None:
    tokens = ScriptedTokens()
    with pytest.raises(ZeroDivisionError):
        async with one_login(tokens, CERT, RsaScheme.PKCS1V15, Login(Pin("1111"))) as sign:
            await sign(ITEMS)
            _ = 1 / 0
    assert tokens.released == 1


async def test_a_failed_release_is_logged_and_the_signatures_stand(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tokens = ScriptedTokens(release_error=TokenModuleFailed("the worker died"))
    with caplog.at_level(logging.WARNING, logger="agent.token.held"):
        async with one_login(tokens, CERT, RsaScheme.PKCS1V15, Login(Pin("1111"))) as sign:
            assert await sign(ITEMS) == [b"s"]
    assert "the worker died" in caplog.text


async def test_a_request_cancelled_while_releasing_still_releases() -> None:
    gate = asyncio.Event()
    tokens = ScriptedTokens(release_gate=gate)
    releasing = asyncio.Event()

    async def batch() -> None:
        async with one_login(tokens, CERT, RsaScheme.PKCS1V15, Login(Pin("1111"))) as sign:
            await sign(ITEMS)
            releasing.set()

    task = asyncio.create_task(batch())
    await releasing.wait()
    while "release" not in tokens.calls:
        await asyncio.sleep(0)
    task.cancel()  # the caller goes away while the module is logging out
    with pytest.raises(asyncio.CancelledError):
        await task
    assert tokens.released == 0
    gate.set()
    for _ in range(10):
        await asyncio.sleep(0)
    assert tokens.released == 1


async def test_signing_after_the_block_is_refused_without_logging_in() -> None:
    tokens = ScriptedTokens()
    async with one_login(tokens, CERT, RsaScheme.PKCS1V15, Login(Pin("1111"))) as sign:
        pass
    with pytest.raises(TokenFailure, match="after the end"):
        await sign(ITEMS)
    assert tokens.calls == []
