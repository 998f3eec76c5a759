"""``make demo``: a demo token, the agent, and one signature checked end to end.

1. Creates (once) a SoftHSM token under ``.demo/`` with a demo CA and a signer
   certificate for "Nguyễn Văn An", key generated on the token.
2. Starts ``kyso-agent serve`` on https://127.0.0.1:8988 allowing the demo
   portal origin ``http://localhost:8980``.
3. Signs the hash of a sample document through the HTTPS API, exactly as a
   portal would, and verifies the signature and the certificate independently.
4. Signs a sample PDF with a visible stamp (``POST /v1/pdf/sign``), saves it as
   ``.demo/signed-sample.pdf`` and checks it with ``kyso-agent verify``.
5. Serves the demo portal (``demo/portal/`` with ``browser-extension/kyso.js``) on
   http://localhost:8980: choose a PDF, sign it through the agent, download it, see
   the agent's verification report.
6. Keeps the agent and the portal running until Ctrl-C (``--once`` stops after step 4).

In a terminal, the agent asks *you* to approve and to type the demo PIN, as it
will for every signature. Without a terminal (CI), the demo answers those two
questions itself through the scripted prompter; every later question is refused.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import http.server
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, ClassVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils

from agent.testing.samples import sample_pdf
from agent.testing.softhsm import KeySpec, SoftHsm, TestCa, TokenSpec, provision

REPO = Path(__file__).resolve().parent.parent
DEMO_PIN = "123456"
#: Outside the agent's port range (8988-8998), so the two never collide.
PORTAL_PORT = 8980
DEMO_ORIGIN = f"http://localhost:{PORTAL_PORT}"
TOKEN_LABEL = "KYSO-DEMO"
SAMPLE = (
    "ỦY BAN NHÂN DÂN TỈNH THỪA THIÊN HUẾ\n"
    "Số: 123/QĐ-UBND\n"
    "QUYẾT ĐỊNH về việc phê duyệt kế hoạch chuyển đổi số năm 2026\n"
).encode()


def say(line: str = "") -> None:
    print(line, flush=True)


def prepare_token(root: Path) -> tuple[SoftHsm, x509.Certificate]:
    """Create the demo token once; later runs reuse it."""
    hsm = SoftHsm(root / "softhsm")
    state = root / "state.json"
    ca_dir = root / "ca"
    if state.exists() and any(hsm.token_dir.glob("*")):
        say(f"• Reusing the demo token in {hsm.token_dir}")
        hsm.create()
        return hsm, x509.load_pem_x509_certificate((ca_dir / "ca.pem").read_bytes())
    say("• Creating a demo token (SoftHSM) with a key generated on the token …")
    hsm.create()
    hsm.wipe()
    ca = TestCa.create("Kyso Demo CA")
    [made] = provision(
        hsm,
        ca,
        ca_dir,
        TokenSpec(
            TOKEN_LABEL,
            DEMO_PIN,
            keys=(KeySpec("01", "RSA", "Nguyễn Văn An", "Văn phòng UBND tỉnh Thừa Thiên Huế"),),
        ),
    )
    state.write_text(
        json.dumps({"token": TOKEN_LABEL, "subject": made.certificate.subject.rfc4514_string()})
    )
    return hsm, ca.cert


def write_config(root: Path, hsm: SoftHsm, port: int | None) -> Path:
    config = root / "config.toml"
    config.write_text(
        (f"port = {port}\n" if port is not None else "") + f'data_dir = "{root / "agent-data"}"\n'
        f'pkcs11_modules = ["{hsm.module}"]\n'
        f'allowed_origins = ["{DEMO_ORIGIN}"]\n'
        f'trust_roots = ["{root / "ca" / "ca.pem"}"]\n'
        'lang = "vi"\n'
    )
    return config


class _PortalHandler(http.server.BaseHTTPRequestHandler):
    """Serves the demo portal's few files and nothing else."""

    FILES: ClassVar[dict[str, tuple[Path, str]]] = {
        "/": (REPO / "demo" / "portal" / "index.html", "text/html; charset=utf-8"),
        "/index.html": (REPO / "demo" / "portal" / "index.html", "text/html; charset=utf-8"),
        "/portal.js": (REPO / "demo" / "portal" / "portal.js", "text/javascript; charset=utf-8"),
        "/portal.css": (REPO / "demo" / "portal" / "portal.css", "text/css; charset=utf-8"),
        # The portal uses the client portals get, not a copy of it.
        "/kyso.js": (REPO / "browser-extension" / "kyso.js", "text/javascript; charset=utf-8"),
    }

    def do_GET(self) -> None:
        found = self.FILES.get(self.path.split("?", 1)[0])
        if found is None:
            self.send_error(404)
            return
        body = found[0].read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", found[1])
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the terminal belongs to the agent's questions."""


class _Ipv6Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6


def serve_portal(port: int = PORTAL_PORT) -> list[http.server.ThreadingHTTPServer]:
    """The demo portal on 127.0.0.1:PORT, and on [::1]:PORT too where the machine has IPv6
    (browsers may resolve ``localhost`` to either). Port 0 picks a free port (tests)."""
    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", port), _PortalHandler)]
    # No IPv6 loopback, or the port taken there: 127.0.0.1 serves alone.
    with contextlib.suppress(OSError):
        servers.append(_Ipv6Server(("::1", servers[0].server_address[1]), _PortalHandler))
    for server in servers:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    return servers


def start_agent(
    root: Path, hsm: SoftHsm, config: Path, interactive: bool
) -> tuple[subprocess.Popen[str], str]:
    argv = [sys.executable, "-m", "agent", "serve", "--config", str(config)]
    if not interactive:
        prompter_dir = root / "prompter"
        prompter_dir.mkdir(exist_ok=True)
        (prompter_dir / "answers.json").write_text(
            json.dumps([{"approved": True, "pin": DEMO_PIN}] * 2)
        )
        argv += ["--prompter", f"{sys.executable} -m agent.testing.prompter {prompter_dir}"]
    env = {**hsm.environ(), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        stdin=None if interactive else subprocess.DEVNULL,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("listening on "):
        process.wait()
        raise SystemExit(
            f"the agent did not start (exit {process.returncode}); see the messages above"
        )
    return process, line.removeprefix("listening on ")


def post(url: str, path: str, body: dict[str, object], ca_file: Path) -> dict[str, str]:
    """POST JSON to the agent as the demo portal; an error answer stops the demo."""
    request = urllib.request.Request(
        f"{url}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Origin": DEMO_ORIGIN},
        method="POST",
    )
    context = ssl.create_default_context(cafile=str(ca_file))
    try:
        with urllib.request.urlopen(request, context=context, timeout=300) as response:
            return dict(json.load(response))
    except urllib.error.HTTPError as exc:
        error = json.load(exc)["error"]
        raise SystemExit(f"signing failed: {error['code']}: {error['message']}") from None


def sign_sample(url: str, ca_file: Path) -> dict[str, str]:
    digest = hashlib.sha256(SAMPLE).digest()
    body: dict[str, object] = {
        "hash": base64.b64encode(digest).decode(),
        "hashAlgorithm": "SHA-256",
        "documentName": "123-QD-UBND.pdf",
    }
    return post(url, "/v1/sign", body, ca_file)


def sign_sample_pdf(url: str, ca_file: Path, out: Path) -> None:
    body: dict[str, object] = {
        "pdf": base64.b64encode(sample_pdf()).decode(),
        "documentName": "123-QD-UBND.pdf",
        "reason": "Phê duyệt",
        "appearance": {"profile": "personal"},
    }
    result = post(url, "/v1/pdf/sign", body, ca_file)
    out.write_bytes(base64.b64decode(result["pdf"]))


def verify_pdf(signed: Path, config: Path, demo_ca: Path, hsm: SoftHsm) -> bool:
    """``kyso-agent verify`` as a user would run it; its report is shown as is."""
    done = subprocess.run(
        [
            *(sys.executable, "-m", "agent", "verify", str(signed)),
            *("--config", str(config), "--trust-root", str(demo_ca), "--offline"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **hsm.environ()},
        check=False,
    )
    for line in done.stdout.splitlines():
        say(f"    {line}")
    return done.returncode == 0


def verify(result: dict[str, str], demo_ca: x509.Certificate) -> x509.Certificate:
    cert = x509.load_der_x509_certificate(base64.b64decode(result["certificate"]))
    public_key = cert.public_key()
    public_key.verify(  # type: ignore[union-attr, call-arg]
        base64.b64decode(result["signature"]),
        hashlib.sha256(SAMPLE).digest(),
        padding.PKCS1v15(),  # type: ignore[arg-type]
        utils.Prehashed(hashes.SHA256()),
    )
    cert.verify_directly_issued_by(demo_ca)
    return cert


def demonstrate(
    url: str,
    root: Path,
    config: Path,
    hsm: SoftHsm,
    demo_ca: x509.Certificate,
    *,
    interactive: bool,
) -> None:
    """Steps 3 and 4: a hash and a PDF signed as the demo portal would, both checked."""
    say(f"• Signing the SHA-256 hash of a sample decision as the portal {DEMO_ORIGIN} would …")
    if interactive:
        say("  → Kyso Agent now asks you, as it will for every signature:")
        say(f"    check the request, then type the demo PIN {DEMO_PIN}")
    else:
        say("  → no terminal: the scripted prompter answers the two questions (demo PIN)")
    result = sign_sample(url, root / "agent-data" / "tls" / "ca.pem")
    cert = verify(result, demo_ca)
    say(f"• Signed by: {cert.subject.rfc4514_string()}")
    size = len(base64.b64decode(result["signature"]))
    say(f"  algorithm {result['signatureAlgorithm']}, {size}-byte signature")
    say("• Signature verified ✓ (by cryptography, with the returned certificate,")
    say("  which the demo CA issued)")
    signed_pdf = root / "signed-sample.pdf"
    say("• Signing a sample PDF with a visible stamp (POST /v1/pdf/sign) …")
    if interactive:
        say(f"  → approve it and type the demo PIN {DEMO_PIN} again")
    sign_sample_pdf(url, root / "agent-data" / "tls" / "ca.pem", signed_pdf)
    say(f"• Saved {signed_pdf}; kyso-agent verify says:")
    if not verify_pdf(signed_pdf, config, root / "ca" / "ca.pem", hsm):
        raise SystemExit("the signed PDF did not verify")
    say("• PDF signature verified ✓")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--once", action="store_true", help="stop after the sample signature")
    parser.add_argument("--root", type=Path, default=REPO / ".demo", help="demo state directory")
    parser.add_argument(
        "--port", type=int, default=None, help="agent port (default 8988 or the next free; 0 = any)"
    )
    args = parser.parse_args()
    root: Path = args.root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    interactive = sys.stdin.isatty() and not args.once
    hsm, demo_ca = prepare_token(root)
    config = write_config(root, hsm, args.port)
    say("• Starting Kyso Agent …")
    process, url = start_agent(root, hsm, config, interactive)
    portal: list[http.server.ThreadingHTTPServer] = []
    try:
        say(f"• Agent listening on {url}")
        demonstrate(url, root, config, hsm, demo_ca, interactive=interactive)
        if args.once:
            return 0
        try:
            portal = serve_portal()
        except OSError as exc:
            say(f"• The demo portal could not start on port {PORTAL_PORT}: {exc}")
        say()
        say(f"Kyso Agent is running: {url}  (API description: {url}/v1/openapi.json)")
        if portal:
            say(f"Demo portal: {DEMO_ORIGIN}/  (sign a PDF of yours there, through kyso.js)")
        say(f"Demo token: {TOKEN_LABEL}   demo PIN: {DEMO_PIN}   allowed origin: {DEMO_ORIGIN}")
        say(f"Local CA to trust for HTTPS: {root / 'agent-data' / 'tls' / 'ca.pem'}")
        say(f"Token list: SOFTHSM2_CONF={hsm.conf} .venv/bin/kyso-agent tokens --config {config}")
        say("Press Ctrl-C to stop.")
        process.wait()
    except KeyboardInterrupt:
        say("\nStopping …")
    finally:
        for server in portal:
            server.shutdown()
        if process.poll() is None:
            process.terminate()
            process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
    return 0


if __name__ == "__main__":
    os.chdir(REPO)
    raise SystemExit(main())
