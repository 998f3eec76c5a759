"""The fault-injecting PKCS#11 shim, driven by python-pkcs11 over a real SoftHSM token.

Each case runs python-pkcs11 in a child process (a crash there must not take
pytest with it) that answers one line per command read from stdin.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.conftest import PIN, SessionToken
from tests.faultshim import FaultControl, build_shim

pytestmark = pytest.mark.integration

DATA = b"Kyso faultshim"

# Commands: "open" (find the token, log in), "sign" (RSA key 01, PKCS#1 v1.5 over a
# SHA-256 DigestInfo made here, single-part CKM_RSA_PKCS as the agent signs), "quit".
# Replies: "ok", "ok SIGNATURE_HEX" or "error EXCEPTION_CLASS".
DRIVER = """
import hashlib, resource, sys
import pkcs11
from pkcs11 import Mechanism, ObjectClass

resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # crashing is the point: leave no core file
module, label, pin, data = sys.argv[1], sys.argv[2], sys.argv[3], bytes.fromhex(sys.argv[4])
sha256_prefix = bytes.fromhex("3031300d060960864801650304020105000420")
digest_info = sha256_prefix + hashlib.sha256(data).digest()
lib = pkcs11.lib(module)
session = None
for line in sys.stdin:
    command = line.strip()
    if command == "quit":
        break
    try:
        if command == "open":
            session = lib.get_token(token_label=label).open(user_pin=pin)
            reply = "ok"
        else:
            key = session.get_key(ObjectClass.PRIVATE_KEY, id=b"\\x01")
            reply = "ok " + key.sign(digest_info, mechanism=Mechanism.RSA_PKCS).hex()
    except pkcs11.PKCS11Error as exc:
        reply = "error " + type(exc).__name__
    print(reply, flush=True)
"""


class Driver:
    """python-pkcs11 in a child process, loading the shim in place of SoftHSM."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    def send(self, *commands: str) -> None:
        """Write commands without waiting for replies."""
        assert self.process.stdin is not None
        self.process.stdin.write("".join(f"{c}\n" for c in commands))
        self.process.stdin.flush()

    def ask(self, command: str) -> str:
        """One command and its reply ("" when the process ended instead)."""
        self.send(command)
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def signature(self) -> bytes:
        """Sign DATA; fails the test unless the token signed."""
        reply = self.ask("sign")
        assert reply.startswith("ok "), reply
        return bytes.fromhex(reply.removeprefix("ok "))

    def end(self) -> int:
        """Wait for the process to end on its own; its return code."""
        self.process.communicate(timeout=60)
        return self.process.returncode


@pytest.fixture(scope="session")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_shim(tmp_path_factory.mktemp("faultshim"))


@pytest.fixture
def control(tmp_path: Path) -> FaultControl:
    return FaultControl(tmp_path / "faults")


@pytest.fixture
def start(token: SessionToken, shim: Path, control: FaultControl) -> Iterator[Callable[[], Driver]]:
    processes: list[subprocess.Popen[str]] = []

    def start() -> Driver:
        process = subprocess.Popen(
            [sys.executable, "-c", DRIVER, str(shim), token.label, PIN, DATA.hex()],
            env={**token.hsm.environ(), **control.env(token.hsm.module)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        processes.append(process)
        return Driver(process)

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate()


def verify(token: SessionToken, signature: bytes) -> None:
    public_key = token.rsa.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(signature, DATA, padding.PKCS1v15(), hashes.SHA256())


def test_without_faults_calls_pass_through_and_the_signature_verifies(
    token: SessionToken, control: FaultControl, start: Callable[[], Driver]
) -> None:
    control.set("# C_Sign crash")
    driver = start()
    assert driver.ask("open") == "ok"
    verify(token, driver.signature())
    assert driver.end() == 0


def test_crash_kills_the_process_with_sigsegv(
    control: FaultControl, start: Callable[[], Driver]
) -> None:
    control.set("C_Sign crash")
    driver = start()
    assert driver.ask("open") == "ok"
    assert driver.ask("sign") == ""
    assert driver.end() == -signal.SIGSEGV


def test_error_after_two_calls_lets_the_first_signature_through(
    token: SessionToken, control: FaultControl, start: Callable[[], Driver]
) -> None:
    # python-pkcs11 calls C_Sign twice per signature: the length, then the signature.
    control.set("C_Sign error 0x32 after 2")
    driver = start()
    assert driver.ask("open") == "ok"
    verify(token, driver.signature())
    assert driver.ask("sign") == "error DeviceRemoved"


def test_token_removed_mid_session_then_plugged_back(
    token: SessionToken, control: FaultControl, start: Callable[[], Driver]
) -> None:
    driver = start()
    assert driver.ask("open") == "ok"
    verify(token, driver.signature())
    control.set("C_GetSlotList error 0xE0", "C_GetTokenInfo error 0xE0", "C_Sign error 0x32")
    assert driver.ask("sign") == "error DeviceRemoved"
    assert driver.ask("open") == "error TokenNotPresent"
    control.clear()
    # As with a real token, the session (and the login) did not survive the removal.
    assert driver.ask("sign") == "error SessionHandleInvalid"
    assert driver.ask("open") == "ok"
    verify(token, driver.signature())


def test_hang_keeps_the_call_from_returning(
    control: FaultControl, start: Callable[[], Driver]
) -> None:
    control.set("C_Sign hang 60")
    driver = start()
    assert driver.ask("open") == "ok"
    # Without the hang the process signs, reads "quit" and exits at once.
    driver.send("sign", "quit")
    with pytest.raises(subprocess.TimeoutExpired):
        driver.process.wait(timeout=3)
    driver.process.kill()
    assert driver.end() == -signal.SIGKILL


def test_hang_passes_through_when_it_ends(
    token: SessionToken, control: FaultControl, start: Callable[[], Driver]
) -> None:
    control.set("C_Sign hang 1")
    driver = start()
    assert driver.ask("open") == "ok"
    verify(token, driver.signature())


def test_changed_rules_reset_the_call_counters(
    token: SessionToken, control: FaultControl, start: Callable[[], Driver]
) -> None:
    control.set("C_Sign error 0x30 after 2")
    driver = start()
    assert driver.ask("open") == "ok"
    verify(token, driver.signature())
    assert driver.ask("sign") == "error DeviceError"
    control.set("C_Sign error 0x31 after 2")
    # Same session: the failed C_Sign ended the operation, as it does in a real module.
    verify(token, driver.signature())
    assert driver.ask("sign") == "error DeviceMemory"
    control.set("C_Sign error 0x31 after 2")  # the same rules: counting goes on
    assert driver.ask("sign") == "error DeviceMemory"


def test_exit_on_every_function_ends_the_process_when_the_module_loads(
    control: FaultControl, start: Callable[[], Driver]
) -> None:
    control.set("* exit 3")
    assert start().end() == 3
