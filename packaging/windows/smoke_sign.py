"""Sign a PDF end to end with an installed Kyso Agent and a SoftHSM token, then verify it.

The Windows runner (.github/workflows/windows.yml) runs it with the MSI's own python.exe, so that
everything below is the installed agent; tests/packaging/test_smoke_sign.py runs the same script
on Linux with the development virtualenv. The steps are those of the Linux tests:

1. a SoftHSM token with a key generated on it and a certificate from a test CA
   (``agent.testing.softhsm.provision``, as the test fixtures do);
2. ``kyso-agent sign-pdf`` with the scripted prompter (``agent.testing.prompter``) approving and
   typing the PIN, then ``kyso-agent verify`` against the test CA, and a tampered copy refused;
3. ``kyso-agent serve`` and ``POST /v1/pdf/sign`` from an allowed origin over HTTPS that trusts
   the agent's own local CA;
4. each signed PDF checked by pyHanko directly (intact, valid, trusted), not only by the agent.

Usage::

    python smoke_sign.py --module PATH/softhsm2.dll --work DIR [--softhsm-util DIR]
                         [--cli PATH/kyso-agent.cmd]

Exit code 0 when every step passed; otherwise the failing step is printed.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import ssl
import subprocess
import sys
from io import BytesIO
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from agent.testing.samples import sample_pdf
from agent.testing.softhsm import KeySpec, SoftHsm, TestCa, TokenSpec, provision

PIN = "246810"
PORTAL = "https://portal.example.gov.vn"
SIGNER = "Nguyễn Văn An"


class StepFailed(Exception):
    """One step of the smoke test did not give what it should."""


def check(condition: bool, message: str) -> None:
    """Fail the step with ``message`` unless ``condition`` holds."""
    if not condition:
        raise StepFailed(message)


def prompter_command(directory: Path, work: Path) -> str:
    """The ``--prompter`` command line running the scripted prompter with this Python.

    The agent splits it like the platform's shell, so a Python under a path with spaces
    (``C:\\Program Files\\Kyso Agent``) is started through a one-line wrapper.
    """
    line = f"{sys.executable} -B -m agent.testing.prompter {directory}"
    if " " not in sys.executable and " " not in str(directory):
        return line
    check(" " not in str(work), f"the work directory must have no space: {work}")
    if os.name == "nt":
        wrapper = work / "prompter.cmd"
        body = f'@"{sys.executable}" -B -m agent.testing.prompter "{directory}"\r\n'
    else:
        wrapper = work / "prompter.sh"
        body = f'#!/bin/sh\nexec "{sys.executable}" -B -m agent.testing.prompter "{directory}"\n'
    wrapper.write_text(body, "utf-8")
    wrapper.chmod(0o755)
    return str(wrapper)


def script_answers(directory: Path) -> None:
    """The user approves once, picks the signer's certificate and types the PIN."""
    directory.mkdir(parents=True, exist_ok=True)
    answer = {"approved": True, "pin": PIN, "certificate": SIGNER}
    (directory / "answers.json").write_text(json.dumps([answer]), "utf-8")
    (directory / "requests.jsonl").write_text("", "utf-8")


def _prompts(directory: Path) -> list[dict[str, Any]]:
    """The questions the scripted user was asked."""
    lines = (directory / "requests.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line]


def pyhanko_verdict(pdf: bytes, root: x509.Certificate) -> list[bool]:
    """pyHanko's own bottom line (intact, valid, trusted) for each signature."""
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    context = ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(root.public_bytes(Encoding.DER))],
        allow_fetching=False,
        revocation_mode="soft-fail",
    )
    reader = PdfFileReader(BytesIO(pdf))
    return [
        bool(validate_pdf_signature(s, context).bottom_line) for s in reader.embedded_signatures
    ]


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a command, echoing it, with UTF-8 output."""
    print("+", " ".join(argv), flush=True)
    return subprocess.run(
        argv,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=300,
        check=False,
    )


def sign_with_cli(cli: list[str], work: Path, env: dict[str, str], ca: Path, module: str) -> bytes:
    """``kyso-agent sign-pdf``, then ``kyso-agent verify`` (and a tampered copy refused)."""
    prompter_dir = work / "prompter-cli"
    script_answers(prompter_dir)
    source, signed = work / "to-trinh.pdf", work / "to-trinh-signed.pdf"
    source.write_bytes(sample_pdf())
    common = ["--data-dir", str(work / "data-cli"), "--pkcs11-module", module]
    done = run(
        [
            *cli,
            "sign-pdf",
            str(source),
            "-o",
            str(signed),
            "--profile",
            "personal",
            "--prompter",
            prompter_command(prompter_dir, work),
            *common,
        ],
        env,
    )
    check(done.returncode == 0, f"sign-pdf failed ({done.returncode}):\n{done.stderr}")
    [prompt] = _prompts(prompter_dir)
    check(prompt["origin"] == "local://kyso-agent", f"unexpected prompt: {prompt}")
    verified = run(
        [*cli, "verify", str(signed), "--trust-root", str(ca), "--offline", *common], env
    )
    check(verified.returncode == 0, f"verify refused it:\n{verified.stdout}{verified.stderr}")
    check(SIGNER in verified.stdout, f"signer not named by verify:\n{verified.stdout}")
    pdf = signed.read_bytes()
    tampered = work / "tampered.pdf"
    marker = pdf.index(b"trang 1")
    tampered.write_bytes(pdf[:marker] + b"T" + pdf[marker + 1 :])
    refused = run(
        [*cli, "verify", str(tampered), "--trust-root", str(ca), "--offline", *common], env
    )
    check(refused.returncode == 1, f"verify accepted a tampered PDF:\n{refused.stdout}")
    return pdf


def sign_with_api(work: Path, env: dict[str, str], module: str, certificate: bytes) -> bytes:
    """``kyso-agent serve`` and ``POST /v1/pdf/sign`` from an allowed portal."""
    prompter_dir = work / "prompter-api"
    script_answers(prompter_dir)
    data_dir = work / "data-api"
    argv = [sys.executable, "-B", "-m", "agent", "serve", "--port", "0", "--vgca-port", "0"]
    argv += ["--data-dir", str(data_dir), "--allow-origin", PORTAL, "--pkcs11-module", module]
    argv += ["--prompter", prompter_command(prompter_dir, work)]
    print("+", " ".join(argv), flush=True)
    stderr = (work / "serve-stderr.txt").open("w", encoding="utf-8")
    server = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True, encoding="utf-8"
    )
    try:
        assert server.stdout is not None  # noqa: S101 - stdout=PIPE above
        line = server.stdout.readline()
        check(
            line.startswith("listening on https://127.0.0.1:"),
            f"serve did not start: {line!r}\n{(work / 'serve-stderr.txt').read_text('utf-8')}",
        )
        port = int(line.rsplit(":", 1)[1])
        context = ssl.create_default_context(cafile=str(data_dir / "tls" / "ca.pem"))
        body = {
            "pdf": base64.b64encode(sample_pdf()).decode(),
            "certificate": base64.b64encode(certificate).decode(),
            "documentName": "QĐ-123.pdf",
        }
        connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=120)
        try:
            headers = {"Content-Type": "application/json", "Origin": PORTAL}
            connection.request("POST", "/v1/pdf/sign", json.dumps(body).encode(), headers)
            response = connection.getresponse()
            answer: dict[str, Any] = json.loads(response.read())
        finally:
            connection.close()
        check(response.status == 200, f"POST /v1/pdf/sign: {response.status} {answer}")
        [prompt] = _prompts(prompter_dir)
        check(prompt["origin"] == PORTAL, f"unexpected prompt: {prompt}")
        return base64.b64decode(answer["pdf"])
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stdout is not None:
            server.stdout.close()
        stderr.close()


def main(argv: list[str] | None = None) -> int:
    """The smoke test; exit code 0 when every step passed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", required=True, help="the SoftHSM PKCS#11 module")
    parser.add_argument("--work", required=True, type=Path, help="a new directory to work in")
    parser.add_argument("--softhsm-util", help="directory of softhsm2-util, when not on PATH")
    parser.add_argument("--cli", help="kyso-agent command (default: this Python -m agent)")
    args = parser.parse_args(argv)
    work: Path = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    # "python -m" puts the current directory first on sys.path: run every command from here, so
    # that an "agent" folder where the script was started (a checkout) is never what is tested.
    os.chdir(work)
    if args.softhsm_util:
        os.environ["PATH"] = args.softhsm_util + os.pathsep + os.environ["PATH"]
    cli = [args.cli] if args.cli else [sys.executable, "-B", "-m", "agent"]
    hsm = SoftHsm(work / "softhsm", Path(args.module)).create()
    ca = TestCa.create("Kyso Smoke Test CA")
    try:
        print("1. token", flush=True)
        spec = TokenSpec("Kyso Smoke", PIN, keys=(KeySpec("01", "RSA", SIGNER, "UBND tỉnh"),))
        [key] = provision(hsm, ca, work / "ca", spec)
        ca_file = work / "ca" / "ca.pem"
        env = {**hsm.environ(), "PYTHONUTF8": "1", "PYTHONUNBUFFERED": "1"}
        print("2. kyso-agent sign-pdf, verify", flush=True)
        by_cli = sign_with_cli(cli, work, env, ca_file, args.module)
        check(pyhanko_verdict(by_cli, ca.cert) == [True], "pyHanko: sign-pdf's signature")
        print("3. kyso-agent serve, POST /v1/pdf/sign", flush=True)
        by_api = sign_with_api(work, env, args.module, key.certificate.public_bytes(Encoding.DER))
        check(pyhanko_verdict(by_api, ca.cert) == [True], "pyHanko: the API's signature")
    except (StepFailed, subprocess.SubprocessError, OSError, ValueError) as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    print("4. both signatures intact, valid and trusted (pyHanko)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
