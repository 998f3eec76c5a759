"""Many signatures after one login, against real SoftHSM, in both kinds of module worker.

The module is the fault shim (``tests/faultshim.c``) over SoftHSM: it passes every call
through until told otherwise. Told ``C_Login error 0xA0``, every later ``C_Login`` fails
with CKR_PIN_INCORRECT: signatures that still come back after that were made without
logging in again. Told ``C_Sign error 0x32``, the token is pulled out (the shim closes
SoftHSM's sessions, as a real module would). Every signature is checked with
``cryptography``.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509

from agent.algorithms import HashAlgorithm, RsaScheme
from agent.errors import PinIncorrect, TokenFailure, TokenNotPresent
from agent.pin import Login, Pin
from agent.testing.softhsm import KeySpec, SoftHsm, TestCa, TokenSpec, new_token
from agent.token import Isolation, TokenCertificate, TokenService
from agent.token.held import one_login
from tests.faultshim import FaultControl, build_shim
from tests.verify import der, verify_with_cryptography

pytestmark = pytest.mark.integration

PIN = "246810"
#: CKR_PIN_INCORRECT: a login tried after this rule is set fails.
NO_MORE_LOGINS = "C_Login error 0xA0"
#: CKR_DEVICE_REMOVED from C_Sign: the token is pulled out in the middle of the batch.
PULLED_OUT = "C_Sign error 0x32"


@dataclass(frozen=True)
class Held:
    hsm: SoftHsm
    rsa: x509.Certificate
    ec: x509.Certificate
    shim: Path


@pytest.fixture(scope="module")
def held_hsm(tmp_path_factory: pytest.TempPathFactory) -> Held:
    root = tmp_path_factory.mktemp("held")
    hsm, made = new_token(
        root,
        TokenSpec(
            "KYSO-HELD",
            PIN,
            keys=(
                KeySpec("01", "RSA", "Nguyễn Văn An", "UBND tỉnh Thừa Thiên Huế"),
                KeySpec("02", "EC", "Trần Thị Bình", "Sở Nội vụ"),
            ),
        ),
        TestCa.create("Kyso Held CA"),
    )
    certs = {m.key_id: m.certificate for m in made}
    return Held(hsm, certs["01"], certs["02"], build_shim(root / "shim"))


@pytest.fixture
def control(tmp_path: Path) -> FaultControl:
    return FaultControl(tmp_path / "faults.txt")


@pytest.fixture(params=[Isolation.PROCESS, Isolation.THREAD], ids=["process", "thread"])
def tokens(
    request: pytest.FixtureRequest,
    held_hsm: Held,
    control: FaultControl,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[TokenService]:
    monkeypatch.setenv("SOFTHSM2_CONF", str(held_hsm.hsm.conf))
    for name, value in control.env(held_hsm.hsm.module).items():
        monkeypatch.setenv(name, value)
    service = TokenService([held_hsm.shim], request.param)
    try:
        yield service
    finally:
        control.clear()
        service.close()


async def certificate(tokens: TokenService, cert: x509.Certificate) -> TokenCertificate:
    inventory = await tokens.inventory()
    [found] = [c for c in inventory.signing_certificates if c.der == der(cert)]
    return found


def digests(text: str, count: int) -> list[tuple[bytes, HashAlgorithm]]:
    return [
        (hashlib.sha256(f"{text} {n}".encode()).digest(), HashAlgorithm.SHA256)
        for n in range(count)
    ]


def assert_verify(
    cert: x509.Certificate, items: list[tuple[bytes, HashAlgorithm]], signatures: list[bytes]
) -> None:
    assert len(signatures) == len(items)
    for (digest, _algorithm), signature in zip(items, signatures, strict=True):
        verify_with_cryptography(der(cert), signature, digest, "SHA-256")


def login() -> Login:
    return Login(Pin(PIN))


async def test_held_signatures_need_no_second_login(
    tokens: TokenService, held_hsm: Held, control: FaultControl
) -> None:
    cert = await certificate(tokens, held_hsm.rsa)
    first = digests("tài liệu đầu", 1)
    assert_verify(
        held_hsm.rsa, first, await tokens.sign(cert, first, RsaScheme.PKCS1V15, login(), keep=True)
    )
    control.set(NO_MORE_LOGINS)
    for n in range(5):
        items = digests(f"tài liệu {n}", 2)
        assert_verify(held_hsm.rsa, items, await tokens.sign_held(cert, items, RsaScheme.PKCS1V15))
    # The rule does refuse a login: the signatures above were made without one.
    await tokens.release(cert)
    with pytest.raises(PinIncorrect):
        await tokens.sign(cert, digests("đăng nhập lại", 1), RsaScheme.PKCS1V15, login())


@pytest.mark.parametrize("key", ["rsa", "ec"])
async def test_a_batch_in_steps_signs_the_first_items_each_time_and_logs_out_with_the_last(
    tokens: TokenService, held_hsm: Held, control: FaultControl, key: str
) -> None:
    x509_cert = held_hsm.rsa if key == "rsa" else held_hsm.ec
    cert = await certificate(tokens, x509_cert)
    work = digests("bảng kê", 6)
    # A step of no time signs one digest: the token is asked for one at least.
    first = await tokens.sign(cert, work, RsaScheme.PKCS1V15, login(), keep=True, step=0.0)
    assert len(first) == 1
    control.set(NO_MORE_LOGINS)  # what follows is signed in the first step's login
    second = await tokens.sign_held(cert, work[1:], RsaScheme.PKCS1V15, step=0.0)
    assert len(second) == 1
    rest = await tokens.sign_held(cert, work[2:], RsaScheme.PKCS1V15, step=60.0)
    assert_verify(x509_cert, work, [*first, *second, *rest])
    with pytest.raises(TokenFailure, match="no login is held"):
        await tokens.sign_held(cert, work[:1], RsaScheme.PKCS1V15, step=60.0)


async def test_a_batch_a_fast_token_signs_in_one_step_leaves_no_login(
    tokens: TokenService, held_hsm: Held
) -> None:
    cert = await certificate(tokens, held_hsm.ec)
    work = digests("một bước", 200)
    signed = await tokens.sign(cert, work, RsaScheme.PKCS1V15, login(), keep=True, step=60.0)
    assert_verify(held_hsm.ec, work, signed)
    with pytest.raises(TokenFailure, match="no login is held"):
        await tokens.sign_held(cert, work[:1], RsaScheme.PKCS1V15)


async def test_held_signing_with_pss_and_ec(tokens: TokenService, held_hsm: Held) -> None:
    rsa_cert = await certificate(tokens, held_hsm.rsa)
    items = digests("pss", 2)
    await tokens.sign(rsa_cert, items, RsaScheme.PSS, login(), keep=True)
    signatures = await tokens.sign_held(rsa_cert, items, RsaScheme.PSS)
    for (digest, _), signature in zip(items, signatures, strict=True):
        verify_with_cryptography(der(held_hsm.rsa), signature, digest, "SHA-256", "PSS")
    ec_cert = await certificate(tokens, held_hsm.ec)
    await tokens.sign(ec_cert, items, RsaScheme.PKCS1V15, login(), keep=True)
    assert_verify(held_hsm.ec, items, await tokens.sign_held(ec_cert, items, RsaScheme.PKCS1V15))
    await tokens.release(ec_cert)


async def test_signing_held_without_a_held_login_fails_clearly(
    tokens: TokenService, held_hsm: Held
) -> None:
    cert = await certificate(tokens, held_hsm.rsa)
    with pytest.raises(TokenFailure, match="no login is held"):
        await tokens.sign_held(cert, digests("chưa đăng nhập", 1), RsaScheme.PKCS1V15)
    # A plain signature keeps nothing either.
    await tokens.sign(cert, digests("một lần", 1), RsaScheme.PKCS1V15, login())
    with pytest.raises(TokenFailure, match="no login is held"):
        await tokens.sign_held(cert, digests("sau một lần", 1), RsaScheme.PKCS1V15)


async def test_a_login_held_for_one_certificate_refuses_another(
    tokens: TokenService, held_hsm: Held
) -> None:
    rsa_cert = await certificate(tokens, held_hsm.rsa)
    ec_cert = await certificate(tokens, held_hsm.ec)
    await tokens.sign(rsa_cert, digests("A", 1), RsaScheme.PKCS1V15, login(), keep=True)
    with pytest.raises(TokenFailure, match="another certificate"):
        await tokens.sign_held(ec_cert, digests("B", 1), RsaScheme.PKCS1V15)
    # Releasing for the other certificate leaves this one's login alone...
    await tokens.release(ec_cert)
    items = digests("A again", 1)
    assert_verify(held_hsm.rsa, items, await tokens.sign_held(rsa_cert, items, RsaScheme.PKCS1V15))
    # ...and a plain signature for the other one ends it (never two logins).
    await tokens.sign(ec_cert, digests("B plain", 1), RsaScheme.PKCS1V15, login())
    with pytest.raises(TokenFailure, match="no login is held"):
        await tokens.sign_held(rsa_cert, digests("A after B", 1), RsaScheme.PKCS1V15)


async def test_release_logs_out_and_can_be_repeated(tokens: TokenService, held_hsm: Held) -> None:
    cert = await certificate(tokens, held_hsm.rsa)
    await tokens.sign(cert, digests("giữ", 1), RsaScheme.PKCS1V15, login(), keep=True)
    await tokens.release(cert)
    await tokens.release(cert)
    with pytest.raises(TokenFailure, match="no login is held"):
        await tokens.sign_held(cert, digests("sau khi trả", 1), RsaScheme.PKCS1V15)
    # Logged out for real: a new login is accepted (SoftHSM refuses one while logged in).
    items = digests("đăng nhập mới", 1)
    assert_verify(held_hsm.rsa, items, await tokens.sign(cert, items, RsaScheme.PKCS1V15, login()))


async def test_a_rescan_while_held_keeps_the_login(tokens: TokenService, held_hsm: Held) -> None:
    cert = await certificate(tokens, held_hsm.rsa)
    await tokens.sign(cert, digests("trước", 1), RsaScheme.PKCS1V15, login(), keep=True)
    for _ in range(3):  # what the token monitor does every ten seconds
        inventory = await tokens.poll(rescan=True)
        assert sorted(c.der for c in inventory.signing_certificates) == sorted(
            [der(held_hsm.rsa), der(held_hsm.ec)]
        )
        await tokens.inventory()
        await tokens.pin_state(cert.token)
    items = digests("sau khi quét", 2)
    assert_verify(held_hsm.rsa, items, await tokens.sign_held(cert, items, RsaScheme.PKCS1V15))
    await tokens.release(cert)
    # The rescan put off while held happens after the release; the token is still seen.
    after = await tokens.poll(rescan=True)
    assert len(after.signing_certificates) == 2


async def test_a_token_pulled_out_ends_the_held_login(
    tokens: TokenService, held_hsm: Held, control: FaultControl
) -> None:
    cert = await certificate(tokens, held_hsm.rsa)
    await tokens.sign(cert, digests("cắm", 1), RsaScheme.PKCS1V15, login(), keep=True)
    control.set(PULLED_OUT)
    with pytest.raises(TokenNotPresent):
        await tokens.sign_held(cert, digests("rút ra", 1), RsaScheme.PKCS1V15)
    control.clear()  # plugged back in
    with pytest.raises(TokenFailure, match="no login is held"):
        await tokens.sign_held(cert, digests("cắm lại", 1), RsaScheme.PKCS1V15)
    await tokens.release(cert)
    items = digests("đăng nhập lại", 1)
    assert_verify(held_hsm.rsa, items, await tokens.sign(cert, items, RsaScheme.PKCS1V15, login()))


async def test_one_login_signs_a_batch_with_the_pin_used_once(
    tokens: TokenService, held_hsm: Held, control: FaultControl
) -> None:
    cert = await certificate(tokens, held_hsm.rsa)
    given = login()
    batch = [digests(f"văn bản {n}", 1) for n in range(20)]
    signed: list[list[bytes]] = []
    async with one_login(tokens, cert, RsaScheme.PKCS1V15, given) as sign:
        signed.append(await sign(batch[0]))
        # The PIN is gone and no login may succeed any more: the batch goes on regardless.
        assert given.pin is not None
        given.pin.wipe()
        control.set(NO_MORE_LOGINS)
        for items in batch[1:]:
            signed.append(await sign(items))
    for items, signatures in zip(batch, signed, strict=True):
        assert_verify(held_hsm.rsa, items, signatures)
    with pytest.raises(TokenFailure, match="no login is held"):
        await tokens.sign_held(cert, batch[0], RsaScheme.PKCS1V15)


async def test_one_login_releases_after_an_error_in_the_block(
    tokens: TokenService, held_hsm: Held
) -> None:
    cert = await certificate(tokens, held_hsm.rsa)

    class Broken(Exception):
        pass

    with pytest.raises(Broken):
        async with one_login(tokens, cert, RsaScheme.PKCS1V15, login()) as sign:
            await sign(digests("một", 1))
            await sign(digests("hai", 1))
            raise Broken
    with pytest.raises(TokenFailure, match="no login is held"):
        await tokens.sign_held(cert, digests("ba", 1), RsaScheme.PKCS1V15)


async def test_one_login_releases_when_its_request_is_cancelled(
    tokens: TokenService, held_hsm: Held
) -> None:
    cert = await certificate(tokens, held_hsm.rsa)
    signed = asyncio.Event()

    async def batch() -> None:
        async with one_login(tokens, cert, RsaScheme.PKCS1V15, login()) as sign:
            await sign(digests("một", 1))
            signed.set()
            await asyncio.sleep(60)  # the user looks at the progress, then the caller leaves

    task = asyncio.create_task(batch())
    await signed.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(TokenFailure, match="no login is held"):
        await tokens.sign_held(cert, digests("hai", 1), RsaScheme.PKCS1V15)


async def test_one_login_raises_a_wrong_pin_unchanged_and_never_retries_it(
    tokens: TokenService, held_hsm: Held, control: FaultControl
) -> None:
    cert = await certificate(tokens, held_hsm.rsa)
    async with one_login(tokens, cert, RsaScheme.PKCS1V15, Login(Pin("975319"))) as sign:
        with pytest.raises(PinIncorrect, match="refused the PIN"):
            await sign(digests("sai", 1))
        # Had it tried again, the token would have counted a second wrong PIN (here: said
        # CKR_GENERAL_ERROR, a TokenFailure).
        control.set("C_Login error 0x5")
        with pytest.raises(PinIncorrect, match="not trying it again"):
            await sign(digests("sai nữa", 1))
    control.clear()
    items = digests("đúng", 1)
    async with one_login(tokens, cert, RsaScheme.PKCS1V15, login()) as sign:
        assert_verify(held_hsm.rsa, items, await sign(items))
