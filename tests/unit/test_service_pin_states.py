"""Token states that SoftHSM cannot produce: locked, final try, low count, PIN pad, no PSS.

SoftHSM never locks a PIN, never reports a low retry count and has no PIN pad,
so these tests replace the token layer with a fake that reports those flags.
Everything else about signing is tested against SoftHSM in tests/integration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from agent.algorithms import HashAlgorithm, RsaScheme
from agent.consent.gate import GateLimits, PromptGate
from agent.consent.pin_cache import PinCache
from agent.consent.prompter import PromptAnswer, PromptRequest
from agent.errors import (
    BadRequest,
    CertificateNotFound,
    PinIncorrect,
    PinLocked,
    TokenFailure,
    TokenNotPresent,
    UserCancelled,
)
from agent.origin import Admitted, parse_origin
from agent.pin import Login, Pin, TriesLeft
from agent.protocol import DigestToSign, SignRequest
from agent.service import SigningService
from agent.testing.prompter import ScriptedPrompter
from agent.testing.softhsm import TestCa, vn_name
from agent.token import (
    Inventory,
    ModuleReport,
    PinState,
    TokenCertificate,
    TokenId,
    TokenInfo,
)
from agent.token.login import pin_for_login

TOKEN = TokenId(Path("/fake/vendor.so"), 1, "SERIAL1", "VGCA token")


@dataclass
class FakeTokens:
    """A token whose flags the test sets; counts every login attempt. It signs ``per_step``
    digests in a batch's step (``None``: all of them, as a fast token does)."""

    state: PinState
    right_pin: bytes = b"1111"
    logins: list[bytes | None] = field(default_factory=list)
    after_wrong: PinState | None = None
    per_step: int | None = None
    asked: list[str] = field(default_factory=list)
    """``sign``, ``sign_held`` and ``release``, in the order the module was asked."""
    cert: TokenCertificate = field(init=False)
    held: TokenCertificate | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        ca = TestCa.create()
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        issued = ca.issue(
            key.public_key(), vn_name("Phạm Văn Đồng"), not_after=now + timedelta(days=90)
        )
        self.cert = TokenCertificate(
            der=issued.public_bytes(serialization.Encoding.DER),
            token=TOKEN,
            key_id=b"\x01",
            label="sig",
            pin=self.state,
        )

    async def inventory(self, *, rescan: bool = False) -> Inventory:
        info = TokenInfo(TOKEN, "Feitian", "ePass2003", self.state, "reader")
        cert = replace(self.cert, pin=self.state)
        return Inventory((ModuleReport(TOKEN.module, True, tokens=(info,), certificates=(cert,)),))

    async def pin_state(self, token: TokenId) -> PinState:
        return self.state

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
        # What the module's worker does with the flags it reads right before C_Login.
        self.asked.append("sign")
        self.held = None
        pin = pin_for_login(self.state, login)
        self.logins.append(None if pin is None else pin.reveal())
        if pin is not None and pin.reveal() != self.right_pin:
            if self.after_wrong is not None:
                self.state = self.after_wrong
            raise PinIncorrect("wrong")
        if keep or step is not None:
            self.held = certificate
        return self._signed(certificate, items, step)

    async def sign_held(
        self,
        certificate: TokenCertificate,
        items: Sequence[tuple[bytes, HashAlgorithm]],
        scheme: RsaScheme,
        *,
        step: float | None = None,
    ) -> list[bytes]:
        self.asked.append("sign_held")
        if self.held != certificate:
            raise TokenFailure("no login held for this certificate")
        return self._signed(certificate, items, step)

    def _signed(
        self, certificate: TokenCertificate, items: Sequence[object], step: float | None
    ) -> list[bytes]:
        if step is None:
            return [b"sig"] * len(items)
        count = len(items) if self.per_step is None else min(self.per_step, len(items))
        if count == len(items):
            self.held = None  # the batch's last step logs out with it
        return [b"sig"] * count

    async def release(self, certificate: TokenCertificate) -> None:
        self.asked.append("release")
        if self.held == certificate:
            self.held = None


CALLER = Admitted(parse_origin("https://portal.gov.vn"), via_wildcard=False)
REQUEST = SignRequest(DigestToSign(bytes(32), HashAlgorithm.SHA256, "doc.pdf"))


def service(tokens: FakeTokens, prompter: ScriptedPrompter) -> SigningService:
    return SigningService(tokens, prompter)


async def test_locked_pin_is_reported_without_asking_or_logging_in() -> None:
    tokens = FakeTokens(PinState(TriesLeft.LOCKED, pinpad=False))
    prompter = ScriptedPrompter([{"approved": True, "pin": "1111"}])
    with pytest.raises(PinLocked):
        await service(tokens, prompter).sign(CALLER, REQUEST)
    assert prompter.requests == []
    assert tokens.logins == []


@pytest.mark.parametrize("tries", [TriesLeft.LOW, TriesLeft.FINAL])
async def test_low_and_final_tries_are_shown_in_the_prompt(tries: TriesLeft) -> None:
    tokens = FakeTokens(PinState(tries, pinpad=False))
    prompter = ScriptedPrompter([{"approved": True, "pin": "1111", "confirmFinalTry": True}])
    await service(tokens, prompter).sign(CALLER, REQUEST)
    [request] = prompter.requests
    assert request.pin is not None and request.pin.tries_left is tries
    assert request.to_wire()["pin"]["triesLeft"] == tries.value


async def test_wrong_pin_that_locks_the_token_stops_without_asking_again() -> None:
    tokens = FakeTokens(
        PinState(TriesLeft.FINAL, pinpad=False), after_wrong=PinState(TriesLeft.LOCKED, False)
    )
    prompter = ScriptedPrompter(
        [
            {"approved": True, "pin": "9999", "confirmFinalTry": True},
            {"approved": True, "pin": "1111"},
        ]
    )
    with pytest.raises(PinLocked):
        await service(tokens, prompter).sign(CALLER, REQUEST)
    assert len(prompter.requests) == 1
    assert tokens.logins == [b"9999"]


async def test_wrong_pin_shows_the_new_count_on_the_retry() -> None:
    tokens = FakeTokens(PinState(TriesLeft.OK, False), after_wrong=PinState(TriesLeft.FINAL, False))
    prompter = ScriptedPrompter(
        [
            {"approved": True, "pin": "9999"},
            {"approved": True, "pin": "1111", "confirmFinalTry": True},
        ]
    )
    await service(tokens, prompter).sign(CALLER, REQUEST)
    retry = prompter.requests[1]
    assert retry.retry is not None and retry.pin is not None
    assert retry.pin.tries_left is TriesLeft.FINAL
    assert tokens.logins == [b"9999", b"1111"], "each login used a PIN typed for it"


async def test_pinpad_token_logs_in_without_a_pin() -> None:
    tokens = FakeTokens(PinState(TriesLeft.OK, pinpad=True))
    prompter = ScriptedPrompter([{"approved": True}])
    await service(tokens, prompter).sign(CALLER, REQUEST)
    assert prompter.requests[0].pin is not None and prompter.requests[0].pin.pinpad
    assert tokens.logins == [None]


async def test_approval_without_a_pin_is_a_cancel_not_an_empty_login() -> None:
    tokens = FakeTokens(PinState(TriesLeft.OK, pinpad=False))
    prompter = ScriptedPrompter([{"approved": True}])
    with pytest.raises(UserCancelled):
        await service(tokens, prompter).sign(CALLER, REQUEST)
    assert tokens.logins == []


async def test_the_pin_is_wiped_after_use() -> None:
    seen: list[Pin] = []

    class Recording(ScriptedPrompter):
        async def ask(self, request: Any) -> Any:
            answer = await super().ask(request)
            seen.append(answer.pin)
            return answer

    tokens = FakeTokens(PinState(TriesLeft.OK, pinpad=False))
    await service(tokens, Recording([{"approved": True, "pin": "1111"}])).sign(CALLER, REQUEST)
    assert seen[0].reveal() == b""


@pytest.mark.parametrize("pinpad", [False, True])
async def test_final_try_without_explicit_confirmation_never_logs_in(pinpad: bool) -> None:
    tokens = FakeTokens(PinState(TriesLeft.FINAL, pinpad=pinpad))
    prompter = ScriptedPrompter([{"approved": True, "pin": "1111"}])
    with pytest.raises(UserCancelled):
        await service(tokens, prompter).sign(CALLER, REQUEST)
    assert tokens.logins == []


def cached_service(tokens: FakeTokens, prompter: ScriptedPrompter) -> SigningService:
    return SigningService(tokens, prompter, pin_cache=PinCache(5))


async def test_cached_pin_is_forgotten_when_the_session_locks() -> None:
    tokens = FakeTokens(PinState(TriesLeft.OK, pinpad=False))
    prompter = ScriptedPrompter([{"approved": True, "pin": "1111"}, {"approved": True}] * 2)
    signing = cached_service(tokens, prompter)
    await signing.sign(CALLER, REQUEST)
    await signing.sign(CALLER, REQUEST)
    assert tokens.logins == [b"1111", b"1111"], "second login used the cached PIN"
    signing.session_locked()
    await signing.sign(CALLER, REQUEST)
    assert prompter.requests[2].pin is not None and prompter.requests[2].pin.required


async def test_cached_pin_is_forgotten_when_the_token_is_removed() -> None:
    tokens = FakeTokens(PinState(TriesLeft.OK, pinpad=False))
    prompter = ScriptedPrompter([{"approved": True, "pin": "1111"}])
    signing = cached_service(tokens, prompter)
    await signing.sign(CALLER, REQUEST)
    present = tokens.inventory

    async def unplugged(*, rescan: bool = False) -> Inventory:
        return Inventory((ModuleReport(TOKEN.module, True),))

    tokens.inventory = unplugged  # type: ignore[method-assign]
    with pytest.raises(TokenNotPresent):
        await signing.sign(CALLER, REQUEST)
    tokens.inventory = present  # type: ignore[method-assign]
    request_after = SignRequest(DigestToSign(bytes(32), HashAlgorithm.SHA256, "again.pdf"))
    prompter.answers.append({"approved": True, "pin": "1111"})
    await signing.sign(CALLER, request_after)
    last = prompter.requests[-1]
    assert last.pin is not None and last.pin.required and not last.pin.cached


def test_pin_cache_expires() -> None:
    now = [0.0]
    cache = PinCache(1, clock=lambda: now[0])
    key = ("m", "s", "l")
    cache.put(key, Pin("1234"))
    copy = cache.get(key)
    assert copy is not None and copy.reveal() == b"1234"
    copy.wipe()
    assert cache.get(key) is not None, "wiping a copy leaves the cache intact"
    now[0] = 61.0
    assert cache.get(key) is None


def test_disabled_cache_keeps_nothing() -> None:
    cache = PinCache(0)
    cache.put(("m", "s", "l"), Pin("1"))
    assert len(cache) == 0


async def test_pss_on_a_token_without_it_is_refused_before_asking() -> None:
    tokens = FakeTokens(PinState(TriesLeft.OK, pinpad=False))
    tokens.cert = replace(tokens.cert, supports_pss=False)
    prompter = ScriptedPrompter([{"approved": True, "pin": "1111"}])
    # FakeTokens' certificate is EC; make the check about PSS support, not key type.
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issued = TestCa.create().issue(rsa_key.public_key(), vn_name("Hoàng Văn Em"))
    tokens.cert = replace(tokens.cert, der=issued.public_bytes(serialization.Encoding.DER))
    request = SignRequest(REQUEST.item, tokens.cert.der, RsaScheme.PSS)
    with pytest.raises(BadRequest, match="RSA-PSS"):
        await service(tokens, prompter).sign(CALLER, request)
    with pytest.raises(CertificateNotFound):
        await service(tokens, prompter).sign(CALLER, replace(request, certificate=None))
    assert prompter.requests == []
    assert tokens.logins == []


@pytest.mark.parametrize(
    ("state", "login", "outcome"),
    [
        (PinState(TriesLeft.OK, pinpad=False), Login(Pin("1111")), "1111"),
        (PinState(TriesLeft.LOW, pinpad=False), Login(Pin("1111")), "1111"),
        (PinState(TriesLeft.OK, pinpad=False), Login(None), UserCancelled),
        (PinState(TriesLeft.OK, pinpad=False), Login(Pin("")), UserCancelled),
        (PinState(TriesLeft.OK, pinpad=True), Login(Pin("1111")), None),
        (PinState(TriesLeft.OK, pinpad=True), Login(None), None),
        (PinState(TriesLeft.FINAL, pinpad=False), Login(Pin("1111")), UserCancelled),
        (PinState(TriesLeft.FINAL, pinpad=False), Login(Pin("1111"), True), "1111"),
        (PinState(TriesLeft.FINAL, pinpad=True), Login(None), UserCancelled),
        (PinState(TriesLeft.FINAL, pinpad=True), Login(None, True), None),
        (PinState(TriesLeft.LOCKED, pinpad=False), Login(Pin("1111"), True), PinLocked),
        (PinState(TriesLeft.LOCKED, pinpad=True), Login(None, True), PinLocked),
    ],
)
def test_the_login_decision_on_the_flags_read_right_before_c_login(
    state: PinState, login: Login, outcome: object
) -> None:
    if isinstance(outcome, type):
        with pytest.raises(outcome):
            pin_for_login(state, login)
        return
    pin = pin_for_login(state, login)
    assert (None if pin is None else pin.reveal().decode()) == outcome


class _PageGone(ScriptedPrompter):
    """A user who never answers: the page goes away first (its request is cancelled)."""

    async def ask(self, request: PromptRequest) -> PromptAnswer:
        self.requests.append(request)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")  # pragma: no cover


async def test_a_page_that_goes_away_during_its_question_counts_for_the_back_off() -> None:
    # Else a page could open and close the dialog over and over, each time taking the keyboard.
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    tokens = FakeTokens(PinState(TriesLeft.OK, pinpad=False))
    prompter = _PageGone()
    signing = SigningService(tokens, prompter, gate=PromptGate(GateLimits(), sleep=sleep))
    for asked in range(1, 4):
        request = asyncio.create_task(signing.sign(CALLER, REQUEST))
        while len(prompter.requests) < asked:
            await asyncio.sleep(0)
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
    # The third question waited, as after two cancels by the user.
    assert delays == [GateLimits().backoff_first]
    assert tokens.logins == []
