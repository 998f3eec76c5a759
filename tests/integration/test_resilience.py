"""A PKCS#11 module that crashes, hangs, exits or loses its token costs one request, not the agent.

The agent runs each module in its own worker process. Faults SoftHSM cannot produce
(a segfault, a hang, a token vanishing in the middle of a batch) come from the fault
shim (``tests/faultshim.c``), a module that wraps SoftHSM and misbehaves on cue; a
token pulled out and plugged back in is SoftHSM's own token directory moved away and
back. Every signature that does come back is checked with ``cryptography``.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import hashlib
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509

from agent.algorithms import HashAlgorithm, RsaScheme
from agent.child import channel
from agent.pin import Login, Pin
from agent.testing.samples import sample_pdf
from agent.testing.softhsm import KeySpec, SoftHsm, TestCa, TokenSpec, new_token
from agent.token import Isolation, TokenService, WorkerLimits
from agent.token.calls import Report, sign_request, typed_signatures
from agent.token.models import Inventory
from agent.token.process import deadline
from tests.conftest import PIN, AgentProcess, Response, eventually, start_agent
from tests.faultshim import FaultControl, build_shim
from tests.verify import b64, der, digest_of, sign_body, verify_with_cryptography

pytestmark = pytest.mark.integration

#: python-pkcs11 calls C_Sign twice per signature (length, then data).
SIGN_CALLS_PER_SIGNATURE = 2


@dataclass(frozen=True)
class Hsm:
    """A token of this module's own: its directory is moved away and back."""

    hsm: SoftHsm
    rsa: x509.Certificate
    shim: Path


@pytest.fixture(scope="module")
def res(tmp_path_factory: pytest.TempPathFactory) -> Hsm:
    root = tmp_path_factory.mktemp("resilience")
    hsm, made = new_token(
        root,
        TokenSpec("KYSO-RES", PIN, keys=(KeySpec("01", "RSA", "Lê Văn Cường", "Sở Nội vụ"),)),
        TestCa.create("Kyso Resilience CA"),
    )
    return Hsm(hsm, made[0].certificate, build_shim(root / "shim"))


@pytest.fixture
def control(tmp_path: Path) -> FaultControl:
    return FaultControl(tmp_path / "faults.txt")


@pytest.fixture
def shimmed(res: Hsm, control: FaultControl, tmp_path: Path) -> Iterator[AgentProcess]:
    """The agent on the fault shim, reads and signatures allowed 3 s."""
    running = start_agent(
        tmp_path / "agent",
        res.hsm,
        modules=[res.shim],
        env=control.env(res.hsm.module),
        policy={"cancel_backoff_seconds": 0, "module_timeout": 3},
    )
    yield running
    running.stop()


@pytest.fixture
def direct(res: Hsm, tmp_path: Path) -> Iterator[AgentProcess]:
    """The agent on SoftHSM itself."""
    running = start_agent(tmp_path / "agent", res.hsm, policy={"cancel_backoff_seconds": 0})
    yield running
    running.stop()


def sign(
    agent: AgentProcess, cert: x509.Certificate, text: str, *, slow_user: bool = False
) -> tuple[Response, bytes]:
    """One signature; ``slow_user`` takes two seconds to answer the prompt."""
    digest = digest_of(text.encode())
    agent.script({"approved": True, "pin": PIN, **({"sleep": 2} if slow_user else {})})
    response = agent.post("/v1/sign", sign_body(digest, cert))
    return response, digest


def assert_signed(response: Response, digest: bytes, cert: x509.Certificate) -> None:
    assert response.status == 200, response.body
    signature = base64.b64decode(response.json["signature"])
    verify_with_cryptography(der(cert), signature, digest, "SHA-256")


def sign_until_served(agent: AgentProcess, cert: x509.Certificate, text: str) -> None:
    """Sign once the worker is back: right after a failure it waits out its back-off."""
    for _ in range(40):
        response, digest = sign(agent, cert, text)
        if response.error_code != "TOKEN_MODULE_FAILED":
            assert_signed(response, digest, cert)
            return
        time.sleep(0.25)
    pytest.fail(f"the module was not restarted: {response.body!r}")


def worker_pids(agent: AgentProcess) -> set[int]:
    """Processes whose parent is the agent (its module workers)."""
    tasks = Path(f"/proc/{agent.process.pid}/task")
    # Each thread lists the children it started; the workers are started by worker threads.
    children = {int(p) for t in tasks.iterdir() for p in (t / "children").read_text().split()}
    return {pid for pid in children if b"agent.token.host" in _cmdline(pid)}


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""


def test_a_crashing_module_fails_one_request_and_is_restarted(
    shimmed: AgentProcess, res: Hsm, control: FaultControl
) -> None:
    assert_signed(*sign(shimmed, res.rsa, "trước sự cố"), res.rsa)
    [first_worker] = worker_pids(shimmed)
    control.set("C_Sign crash")
    response, _ = sign(shimmed, res.rsa, "sự cố")
    assert response.status == 503
    assert response.error_code == "TOKEN_MODULE_FAILED"
    assert "signature" not in response.json
    assert shimmed.process.poll() is None
    assert shimmed.request("GET", "/v1/info").status == 200
    assert "killed by SIGSEGV" in shimmed.log_text()
    control.clear()
    sign_until_served(shimmed, res.rsa, "sau sự cố")
    assert first_worker not in worker_pids(shimmed)
    assert shimmed.audit_outcomes() == ["signed", "TOKEN_MODULE_FAILED", "signed"]


def test_a_hung_module_is_stopped_at_its_deadline(
    shimmed: AgentProcess, res: Hsm, control: FaultControl
) -> None:
    assert_signed(*sign(shimmed, res.rsa, "khởi động"), res.rsa)
    [hung_worker] = worker_pids(shimmed)
    control.set("C_Sign hang 600")
    response, _ = sign(shimmed, res.rsa, "treo")
    assert response.error_code == "TOKEN_MODULE_FAILED"
    assert "did not answer within" in shimmed.log_text()
    assert not Path(f"/proc/{hung_worker}").exists() or hung_worker not in worker_pids(shimmed)
    control.clear()
    sign_until_served(shimmed, res.rsa, "sau khi treo")


def test_a_module_that_exits_while_listing_tokens_is_reported_not_as_a_missing_token(
    shimmed: AgentProcess, res: Hsm, control: FaultControl
) -> None:
    control.set("C_GetSlotList exit 3")
    response, _ = sign(shimmed, res.rsa, "danh sách")
    assert response.error_code == "TOKEN_MODULE_FAILED"
    assert shimmed.prompts() == []  # nobody is asked to sign with a module that is down
    assert "exited with status 3" in shimmed.log_text()
    control.clear()
    sign_until_served(shimmed, res.rsa, "sau khi thoát")


def test_a_module_printing_on_stdout_does_not_disturb_the_agent(
    shimmed: AgentProcess, res: Hsm, control: FaultControl
) -> None:
    # The worker's replies travel on what was its stdout; a chatty module must not corrupt them.
    control.set("* chatter 20")
    assert_signed(*sign(shimmed, res.rsa, "nhiều lời"), res.rsa)
    assert "vendor debug: C_xxx called" in shimmed.log_text()


def test_repeated_crashes_back_off_instead_of_spinning(
    shimmed: AgentProcess, res: Hsm, control: FaultControl
) -> None:
    control.set("* crash")
    answers = [sign(shimmed, res.rsa, f"lần {n}")[0] for n in range(6)]
    assert {a.error_code for a in answers} == {"TOKEN_MODULE_FAILED"}
    log = shimmed.log_text()
    # Six requests in quick succession: the back-off answers most without starting a child.
    started = log.count("started worker process")
    assert 1 <= started < len(answers), log
    assert "restarting the module in" in log
    control.clear()
    sign_until_served(shimmed, res.rsa, "hết lỗi")


def test_token_removed_in_the_middle_of_a_batch_returns_nothing(
    shimmed: AgentProcess, res: Hsm, control: FaultControl
) -> None:
    # Three signatures go through, then the token "goes away" (CKR_DEVICE_REMOVED).
    control.set(f"C_Sign error 0x32 after {3 * SIGN_CALLS_PER_SIGNATURE}")
    digests = [digest_of(f"công văn {n}".encode()) for n in range(8)]
    shimmed.script({"approved": True, "pin": PIN})
    response = shimmed.post(
        "/v1/sign/batch",
        {
            "items": [sign_body(d) for d in digests],
            "certificate": b64(der(res.rsa)),
        },
    )
    assert response.status == 409, response.body
    assert response.error_code == "TOKEN_NOT_PRESENT"
    assert "signatures" not in response.json
    control.clear()
    assert_signed(*sign(shimmed, res.rsa, "cắm lại"), res.rsa)


def test_a_short_batch_on_a_slow_token_shows_its_progress_and_stops(
    shimmed: AgentProcess, res: Hsm, control: FaultControl
) -> None:
    # A second for each C_Sign, which python-pkcs11 calls twice a signature: a USB token's pace.
    control.set("C_Sign hang 1")
    shimmed.script({"approved": True, "pin": PIN})
    # Stop once the first is signed (the prompter is a process of its own: its Stop reaches the
    # agent while the second is being signed, and the batch ends before the third).
    shimmed.script_activities({"stopAt": 1})
    digests = [digest_of(f"tờ trình {n}".encode()) for n in range(4)]
    items = [{**sign_body(d), "documentName": f"Tờ trình {n}"} for n, d in enumerate(digests)]
    response = shimmed.post("/v1/sign/batch", {"items": items, "certificate": b64(der(res.rsa))})
    assert (response.status, response.error_code) == (403, "USER_CANCELLED"), response.body
    assert "signatures" not in response.json
    [question, progress] = shimmed.prompts()
    assert question["action"] == "sign"
    assert (progress["action"], progress["total"]) == ("progress", 4)
    updates = [u for u in shimmed.activity_updates() if "done" in u]  # not its first line
    assert {"done": 1, "current": "Tờ trình 1"} in updates, updates
    assert all(u["done"] < 4 for u in updates), updates
    assert shimmed.audit_outcomes()[-1] == "USER_CANCELLED"
    control.clear()
    assert_signed(*sign(shimmed, res.rsa, "sau khi dừng"), res.rsa)


def test_token_removed_during_a_pdf_signature_returns_no_pdf(
    shimmed: AgentProcess, res: Hsm, control: FaultControl
) -> None:
    control.set("C_Sign error 0x32")
    shimmed.script({"approved": True, "pin": PIN})
    response = shimmed.post("/v1/pdf/sign", {"pdf": b64(sample_pdf())})
    assert response.error_code == "TOKEN_NOT_PRESENT", response.body[:300]
    assert "pdf" not in response.json
    control.clear()
    shimmed.script({"approved": True, "pin": PIN})
    again = shimmed.post("/v1/pdf/sign", {"pdf": b64(sample_pdf())})
    assert again.status == 200, again.body[:300]


def move_token_away(hsm: SoftHsm, where: Path) -> Path:
    [token_dir] = list(hsm.token_dir.iterdir())
    shutil.move(token_dir, where)
    return token_dir


def test_token_pulled_out_before_consent_waits_for_it_to_be_plugged_back(
    direct: AgentProcess, res: Hsm, tmp_path: Path
) -> None:
    assert_signed(*sign(direct, res.rsa, "trước khi rút"), res.rsa)
    home = move_token_away(res.hsm, tmp_path / "away")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        try:
            pending = pool.submit(sign, direct, res.rsa, "đã rút")
            eventually(
                lambda: [p for p in direct.prompts() if p["action"] == "wait-token"] or None,
                20,
                "the agent to ask for the token",
            )
        finally:
            shutil.move(tmp_path / "away", home)
        # No restart of the agent: the waiting request sees the token again and goes on.
        assert_signed(*pending.result(timeout=30), res.rsa)
    assert [p["action"] for p in direct.prompts()] == ["wait-token", "sign"]


def test_token_pulled_out_while_the_user_is_asked(
    direct: AgentProcess, res: Hsm, tmp_path: Path
) -> None:
    [home] = list(res.hsm.token_dir.iterdir())
    away = tmp_path / "away"
    # The user takes two seconds to answer; the token leaves meanwhile.
    pull = threading.Timer(0.8, shutil.move, (home, away))
    pull.start()
    try:
        response, _ = sign(direct, res.rsa, "rút giữa chừng", slow_user=True)
    finally:
        pull.join()
    assert len(direct.prompts()) == 1
    assert response.error_code == "TOKEN_NOT_PRESENT", response.body
    shutil.move(away, home)
    assert_signed(*sign(direct, res.rsa, "cắm lại"), res.rsa)


def test_stopping_the_agent_leaves_no_worker_behind(res: Hsm, tmp_path: Path) -> None:
    agent = start_agent(tmp_path / "agent", res.hsm)
    try:
        assert_signed(*sign(agent, res.rsa, "một"), res.rsa)
        workers = worker_pids(agent)
        assert len(workers) == 1
    finally:
        agent.stop()
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid)


def test_kill_9_of_the_agent_takes_its_workers_along(res: Hsm, tmp_path: Path) -> None:
    agent = start_agent(tmp_path / "agent", res.hsm)
    try:
        assert_signed(*sign(agent, res.rsa, "một"), res.rsa)
        workers = worker_pids(agent)
        os.kill(agent.process.pid, signal.SIGKILL)
        agent.process.wait()
    finally:
        agent.stop()
    for pid in workers:
        for _ in range(50):
            if not Path(f"/proc/{pid}").exists() or _is_zombie(pid):
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"worker {pid} outlived the agent")


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


@pytest.mark.parametrize("isolation", list(Isolation))
def test_the_pin_copy_is_wiped_once_the_worker_has_it(
    res: Hsm, isolation: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOFTHSM2_CONF", str(res.hsm.conf))
    tokens = TokenService([res.hsm.module], isolation)
    try:
        inventory = tokens.inventory_sync()
        [cert] = [c for c in inventory.signing_certificates if c.der == der(res.rsa)]
        request = sign_request(
            cert, [(digest_of(b"x"), HashAlgorithm.SHA256)], RsaScheme.PKCS1V15, Login(Pin(PIN))
        )
        worker = tokens._worker(res.hsm.module)  # noqa: SLF001 - the request object is the point
        assert request.pin == bytearray(PIN.encode())
        [signature] = typed_signatures(worker.call_sync(request), 1)
        assert request.pin == bytearray()
        verify_with_cryptography(der(res.rsa), signature, digest_of(b"x"), "SHA-256")
        assert PIN not in repr(request)
    finally:
        tokens.close()


def test_the_in_process_mode_still_signs(res: Hsm, tmp_path: Path) -> None:
    agent = start_agent(tmp_path / "agent", res.hsm, policy={"module_isolation": "thread"})
    try:
        assert_signed(*sign(agent, res.rsa, "trong tiến trình"), res.rsa)
        assert worker_pids(agent) == set()
    finally:
        agent.stop()


def test_deadlines_grow_with_the_batch_and_the_pin_pad() -> None:
    limits = WorkerLimits(
        call_timeout=5, sign_timeout=10, sign_timeout_per_item=1, pinpad_timeout=100
    )
    assert deadline(limits, Report()) == 5
    assert [limits.backoff(n) for n in range(1, 10)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]


@pytest.fixture
def patient_module(res: Hsm, control: FaultControl, tmp_path: Path) -> Iterator[AgentProcess]:
    """The agent on the fault shim, its module allowed ten minutes a call, started and
    signing (its worker is up)."""
    agent = start_agent(
        tmp_path / "agent",
        res.hsm,
        modules=[res.shim],
        env=control.env(res.hsm.module),
        policy={"module_timeout": 600},
    )
    try:
        assert_signed(*sign(agent, res.rsa, "khởi động"), res.rsa)
        yield agent
    finally:
        agent.stop()


def test_stopping_the_agent_does_not_wait_for_a_hung_module(
    patient_module: AgentProcess, res: Hsm, control: FaultControl
) -> None:
    agent = patient_module
    control.set("C_Sign hang 600")
    stuck = threading.Thread(target=sign, args=(agent, res.rsa, "treo"), daemon=True)
    stuck.start()
    for _ in range(100):  # until the user has answered and the module has the request
        if agent.prompts():
            break
        time.sleep(0.05)
    time.sleep(1)
    agent.process.send_signal(signal.SIGTERM)
    # The module's deadline is ten minutes; the agent must not sit it out.
    assert agent.process.wait(30) == 0
    assert "in the middle of a call" in agent.log_text()


def test_a_signature_under_way_when_the_agent_stops_is_still_answered(
    patient_module: AgentProcess, res: Hsm, control: FaultControl
) -> None:
    agent = patient_module
    control.set("C_Sign hang 2")  # a slow USB token, well within the stop's grace
    agent.script({"approved": True, "pin": PIN})
    digest = digest_of("đang ký".encode())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        answer = pool.submit(agent.post, "/v1/sign", sign_body(digest, res.rsa))
        eventually(agent.prompts, 30, "the user approved")
        agent.process.send_signal(signal.SIGTERM)  # Quit, while the token signs
        assert_signed(answer.result(60), digest, res.rsa)
    assert agent.process.wait(30) == 0
    assert "in the middle of a call" not in agent.log_text()


# --- the pipe to the worker process --------------------------------------------------------


def test_an_unchanged_report_is_not_sent_again_but_a_change_is(
    res: Hsm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOFTHSM2_CONF", str(res.hsm.conf))
    tokens = TokenService([res.hsm.module], Isolation.PROCESS)

    async def reads() -> list[Inventory]:
        seen = [await tokens.inventory()]
        [cert] = seen[0].signing_certificates
        item = [(digest_of(b"giua hai lan doc"), HashAlgorithm.SHA256)]
        await tokens.sign(cert, item, RsaScheme.PKCS1V15, Login(Pin(PIN)))
        seen.append(await tokens.inventory())
        home = move_token_away(res.hsm, tmp_path / "away")
        try:
            seen.append(await tokens.inventory())
        finally:
            shutil.move(tmp_path / "away", home)
        seen.append(await tokens.inventory())
        return seen

    try:
        first, again, away, back = asyncio.run(reads())
    finally:
        tokens.close()
    # The agent keeps the report it already has (and the certificates it parsed), also
    # across a signature...
    assert again.modules[0] is first.modules[0]
    assert [c.der for c in first.signing_certificates] == [der(res.rsa)]
    # ...and still sees every change: the token gone, then back.
    assert away.tokens == ()
    assert back.modules[0] is not first.modules[0]
    assert [c.der for c in back.signing_certificates] == [der(res.rsa)]


def test_a_batch_larger_than_the_pipe_buffer_is_written_in_pieces(
    res: Hsm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOFTHSM2_CONF", str(res.hsm.conf))
    tokens = TokenService([res.hsm.module], Isolation.PROCESS)
    digests = [hashlib.sha512(f"trang {n}".encode()).digest() for n in range(1000)]

    async def batch() -> tuple[list[bytes], int]:
        inventory = await tokens.inventory()
        [cert] = inventory.signing_certificates
        items = [(d, HashAlgorithm.SHA512) for d in digests]
        frame = len(channel.encode(sign_request(cert, items, RsaScheme.PKCS1V15, Login(None))))
        return await tokens.sign(cert, items, RsaScheme.PKCS1V15, Login(Pin(PIN))), frame

    try:
        signatures, frame = asyncio.run(batch())
    finally:
        tokens.close()
    assert frame > 65536  # more than a Linux pipe holds: the loop waits for room to write
    assert len(signatures) == len(digests)
    for signature, digest in zip(signatures, digests, strict=True):
        verify_with_cryptography(der(res.rsa), signature, digest, "SHA-512")


def test_a_call_given_up_mid_exchange_ends_its_worker_and_the_next_call_works(
    res: Hsm, control: FaultControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOFTHSM2_CONF", str(res.hsm.conf))
    for name, value in control.env(res.hsm.module).items():
        monkeypatch.setenv(name, value)
    tokens = TokenService([res.shim], Isolation.PROCESS)
    worker = tokens._worker(res.shim)  # noqa: SLF001 - the child process is the point

    async def give_up_then_sign() -> tuple[int, list[bytes]]:
        inventory = await tokens.inventory()
        [cert] = inventory.signing_certificates
        hung = worker._child.process  # type: ignore[attr-defined]  # noqa: SLF001
        control.set("C_Sign hang 600")
        item = [(digest_of(b"bo do"), HashAlgorithm.SHA256)]
        stuck = asyncio.create_task(tokens.sign(cert, item, RsaScheme.PKCS1V15, Login(Pin(PIN))))
        await asyncio.sleep(1)
        stuck.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stuck
        # Its reply could still come and would answer the next request: the child is ended.
        code = await asyncio.to_thread(hung.wait, 10)
        control.clear()
        again = [(digest_of(b"lam lai"), HashAlgorithm.SHA256)]
        return code, await tokens.sign(cert, again, RsaScheme.PKCS1V15, Login(Pin(PIN)))

    try:
        code, [signature] = asyncio.run(give_up_then_sign())
    finally:
        tokens.close()
    assert code == -signal.SIGKILL
    verify_with_cryptography(der(res.rsa), signature, digest_of(b"lam lai"), "SHA-256")
