"""The Debian package (``make deb``, packaging/linux/): build it, inspect it, and — as root, which
CI is — install it on this machine, sign with SoftHSM through the installed agent, reinstall
keeping the edited policy, remove and purge, checking that nothing is left behind.

The install test changes the real machine's /opt, /usr/bin and /etc (CI's container); it cleans
up in ``finally`` even when it fails, and refuses to touch a kyso-agent package already there.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils
from cryptography.hazmat.primitives.serialization import Encoding
from packaging.utils import canonicalize_name

from agent import __version__
from agent.config import AgentConfig, load_config
from tests.conftest import PIN, PORTAL, AgentProcess, SessionToken
from tests.packaging.test_lock import read_lock

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "packaging" / "linux" / "build-deb.sh"
VENV = Path("/opt/kyso-agent")
WRAPPER = Path("/usr/bin/kyso-agent")
POLICY = Path("/etc/kyso-agent/policy.toml")
AUTOSTART = Path("/etc/xdg/autostart/kyso-agent.desktop")
WHEELS = Path("/usr/lib/kyso-agent/wheels")
IN_CI = os.environ.get("CI") == "true"


def _run(*argv: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        **kwargs,  # type: ignore[call-overload]
    )


def _ok(*argv: str, **kwargs: object) -> str:
    done = _run(*argv, **kwargs)
    assert done.returncode == 0, f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}"
    return done.stdout


def _version_line() -> str:
    """What the installed ``kyso-agent --version`` prints: it runs on Debian's python3."""
    python = _ok("/usr/bin/python3", "-c", "import platform; print(platform.python_version())")
    return f"kyso-agent {__version__} (CPython {python.strip()})"


def _dpkg_status() -> str:
    """The package's dpkg status (``install ok installed``, ``deinstall ok config-files``), or
    ``""`` when dpkg does not know it."""
    done = _run("dpkg-query", "-W", "-f=${Status}", "kyso-agent")
    return done.stdout.strip() if done.returncode == 0 else ""


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package, built by the script behind ``make deb`` into a temporary directory."""
    if shutil.which("dpkg-deb") is None:
        pytest.fail("dpkg-deb is missing: this test needs Debian or Ubuntu")
    out = tmp_path_factory.mktemp("deb")
    # The agent's own wheel is built by this venv's Python, whose setuptools is the locked one.
    printed = _ok(str(BUILD), str(out), env={**os.environ, "BUILD_PYTHON": sys.executable}).strip()
    arch = _ok("dpkg", "--print-architecture").strip()
    path = out / f"kyso-agent_{__version__}_{arch}.deb"
    assert printed == str(path)
    assert path.is_file()
    return path


@pytest.fixture(scope="module")
def unpacked(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package's files and control files, extracted."""
    root = tmp_path_factory.mktemp("unpacked")
    _ok("dpkg-deb", "--raw-extract", str(deb), str(root))
    return root


def _control(deb: Path) -> dict[str, str]:
    fields = {}
    for name in ("Package", "Version", "Architecture", "Depends", "Recommends"):
        fields[name] = _ok("dpkg-deb", "--field", str(deb), name).strip()
    return fields


def test_control_fields(deb: Path) -> None:
    fields = _control(deb)
    assert fields["Package"] == "kyso-agent"
    assert fields["Version"] == __version__
    assert fields["Architecture"] == _ok("dpkg", "--print-architecture").strip()
    depends = [d.strip() for d in fields["Depends"].split(",")]
    assert "python3-venv" in depends
    assert "python3-tk" in depends
    # The bundled binary wheels are for this CPython (3.11 on Debian 12): pinned to it.
    minor = _ok("/usr/bin/python3", "-c", "import sys; print(sys.version_info[1])").strip()
    assert f"python3 (>= 3.{minor}~)" in depends
    assert f"python3 (<< 3.{int(minor) + 1}~)" in depends
    assert int(minor) >= 11
    recommends = fields["Recommends"]
    assert "opensc-pkcs11" in recommends
    assert "libnss3-tools" in recommends
    assert "fonts-liberation2 | fonts-dejavu-core" in recommends
    assert "python3-gi" in recommends  # the tray's menu (GTK / AppIndicator)


def test_the_wheels_inside_are_the_locked_files(unpacked: Path) -> None:
    """Every dependency is the lock's release, and its very file is one the lock hashed; the
    list postinst installs from pins each wheel to its SHA-256."""
    locked = read_lock(REPO / "requirements" / "main.txt")
    wheels = unpacked / str(WHEELS).lstrip("/")
    shipped = {}
    for wheel in wheels.glob("*.whl"):
        name, version = wheel.name.split("-")[:2]
        shipped[canonicalize_name(name)] = (version, hashlib.sha256(wheel.read_bytes()).hexdigest())
    assert shipped.pop("kyso-agent")[0] == __version__
    expected = {n: str(p.version) for n, p in locked.items() if p.applies_here()}
    assert {n: v for n, (v, _) in shipped.items()} == expected
    for name, (_, digest) in shipped.items():
        assert digest in locked[name].hashes, name
    pinned = (wheels / "requirements.txt").read_text().splitlines()
    assert len(pinned) == len(shipped) + 1
    for line in pinned:
        assert re.fullmatch(r"[A-Za-z0-9_.]+==\S+ --hash=sha256:[0-9a-f]{64}", line), line


def test_an_sbom_beside_the_package_lists_its_wheels(deb: Path, unpacked: Path) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    text = deb.with_suffix(".cdx.json").read_text("utf-8")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    sbom = json.loads(text)
    root = sbom["metadata"]["component"]
    assert (root["name"], root["version"], root["purl"]) == (
        "kyso-agent",
        __version__,
        f"pkg:pypi/kyso-agent@{__version__}",
    )
    wheels = unpacked / str(WHEELS).lstrip("/")
    files = {
        hashlib.sha256(w.read_bytes()).hexdigest(): w.name
        for w in wheels.glob("*.whl")
        if not w.name.startswith("kyso_agent-")
    }
    listed = {c["hashes"][0]["content"]: c for c in sbom["components"]}
    assert set(listed) == set(files)
    for digest, component in listed.items():
        name, version = files[digest].split("-")[:2]
        assert canonicalize_name(component["name"]) == canonicalize_name(name)
        assert component["version"] == version
        assert component["purl"] == f"pkg:pypi/{canonicalize_name(name)}@{version}"
    assert all(c.get("licenses") for c in sbom["components"]), "every licence named"


def test_contents(deb: Path, unpacked: Path) -> None:
    listing = _ok("dpkg-deb", "--contents", str(deb))
    names = {line.split()[5].removeprefix(".") for line in listing.splitlines()}
    for path in (WRAPPER, POLICY, AUTOSTART, Path("/usr/share/applications/kyso-agent.desktop")):
        assert str(path) in names
    wheels = {Path(n).name for n in names if n.startswith(f"{WHEELS}/")}
    assert f"kyso_agent-{__version__}-py3-none-any.whl" in wheels
    # Dependencies resolved at build time, so that installing needs no network.
    for project in ("cryptography", "python_pkcs11", "pyhanko", "aiohttp", "pystray", "requests"):
        assert any(w.startswith(f"{project}-") for w in wheels), project
    # Nothing is installed under /opt by dpkg itself: postinst builds the virtualenv.
    assert not any(n.startswith("/opt") for n in names)
    assert (unpacked / "DEBIAN" / "conffiles").read_text().split() == [str(POLICY)]
    for script in ("postinst", "prerm", "postrm"):
        assert os.access(unpacked / "DEBIAN" / script, os.X_OK)
    wrapper = (unpacked / "usr/bin/kyso-agent").read_text()
    assert wrapper.startswith("#!/bin/sh\n")
    assert f'exec {VENV}/bin/kyso-agent "$@"' in wrapper
    # At login a second agent leaves quietly; from the menu it brings the running one forward.
    for desktop, command in (
        (AUTOSTART, "kyso-agent run --at-login"),
        (Path("/usr/share/applications/kyso-agent.desktop"), "kyso-agent run"),
    ):
        entry = (unpacked / str(desktop).lstrip("/")).read_text("utf-8")
        assert f"\nExec={command}\n" in entry
        assert entry.startswith("[Desktop Entry]\nType=Application\n")


def test_sample_policy_documents_every_key_with_its_default(unpacked: Path) -> None:
    text = (unpacked / str(POLICY).lstrip("/")).read_text("utf-8")
    # As shipped, it sets nothing.
    assert tomllib.loads(text) == {}
    assert load_config(policy=tomllib.loads(text)) == load_config(policy={})
    # Every setting is there, commented out, and uncommenting all of them is a valid policy.
    commented = "\n".join(m[1] for m in re.finditer(r"^# (\w+ = .*)$", text, re.M))
    values = tomllib.loads(commented)
    assert set(values) == set(AgentConfig.__dataclass_fields__)
    load_config(policy=values, user_config_file=Path("/nonexistent/config.toml"))
    # Those shown as defaults are the real defaults (the others are examples).
    defaults = AgentConfig()
    examples = {"allowed_origins", "pkcs11_modules", "extension_ids", "data_dir", "prompter"}
    examples |= {"tsa_url", "trust_roots", "port", "vnpt_port", "bkav_port", "fpt_port"}
    for key, value in values.items():
        if key not in examples:
            actual = getattr(defaults, key)
            assert actual == value, f"{key}: sample says {value!r}, default is {actual!r}"
    assert values["port"] == 8988


def _require_root() -> None:
    if os.geteuid() != 0:
        reason = "installing the package needs root (dpkg -i)"
        if IN_CI:
            pytest.fail(f"{reason}; CI runs as root")
        pytest.skip(reason)
    if _dpkg_status() or VENV.exists() or WRAPPER.exists():
        # Not ours to remove: a developer's own installation.
        pytest.skip("kyso-agent is already installed on this machine; not touching it")


def _start_installed_agent(root: Path, token: SessionToken) -> AgentProcess:
    """``/usr/bin/kyso-agent serve`` on the test token, with the scripted prompter run by the
    installed virtualenv's Python (outside the work tree, so nothing is imported from it)."""
    prompter_dir = root / "prompter"
    prompter_dir.mkdir(parents=True)
    home = root / "home"
    home.mkdir()
    data_dir = root / "data"
    env = {
        **token.hsm.environ(),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DISPLAY", None)
    env.pop("PYTHONPATH", None)
    argv = [
        str(WRAPPER),
        "serve",
        "--port",
        "0",
        # Every layer on a free port: the vendors' may be held by an agent of another test.
        *("--vgca-port", "0", "--vnpt-port", "0", "--bkav-port", "0", "--fpt-port", "0"),
        "--data-dir",
        str(data_dir),
        "--prompter",
        f"{VENV}/bin/python -m agent.testing.prompter {prompter_dir}",
        "--allow-origin",
        PORTAL,
        "--pkcs11-module",
        str(token.hsm.module),
    ]
    stderr_path = root / "stderr.txt"
    stderr = stderr_path.open("w")
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env, cwd=root
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("listening on https://127.0.0.1:"):
        process.kill()
        process.wait()
        process.stdout.close()
        stderr.close()
        raise AssertionError(f"agent did not start: {line!r}\n{stderr_path.read_text()}")
    port = int(line.rsplit(":", 1)[1])
    return AgentProcess(process, port, data_dir, prompter_dir, stderr_path, stderr)


def _sign_with_installed_agent(agent: AgentProcess, token: SessionToken) -> None:
    digest = hashlib.sha256(b"Quyet dinh so 1/QD-UBND").digest()
    agent.script({"approved": True, "pin": PIN})
    certificate = base64.b64encode(token.rsa.public_bytes(Encoding.DER)).decode()
    answer = agent.post(
        "/v1/sign",
        {
            "hash": base64.b64encode(digest).decode(),
            "hashAlgorithm": "SHA-256",
            "certificate": certificate,
            "documentName": "quyet-dinh.pdf",
        },
    )
    assert answer.status == 200, (answer.body, agent.log_text())
    assert answer.json["signatureAlgorithm"] == "RS256"
    public_key = token.rsa.public_key()
    public_key.verify(  # type: ignore[union-attr,call-arg]
        base64.b64decode(answer.json["signature"]),
        digest,
        padding.PKCS1v15(),  # type: ignore[arg-type]
        utils.Prehashed(hashes.SHA256()),  # type: ignore[arg-type]
    )
    [question] = agent.prompts()
    assert question["origin"] == PORTAL


@pytest.fixture
def installed(deb: Path) -> Iterator[Path]:
    """``dpkg -i`` the package; purge whatever is left afterwards, whatever happened."""
    _require_root()
    try:
        yield deb
    finally:
        if _dpkg_status():
            _run("dpkg", "--purge", "kyso-agent")
        shutil.rmtree(VENV, ignore_errors=True)


def _dpkg_install(deb: Path) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = _run("dpkg", "--install", str(deb), env=env)
    if done.returncode != 0:
        # Missing dependencies (python3-tk, python3-venv …): let apt bring them and configure.
        _ok("apt-get", "install", "-f", "-y", "-qq", "--no-install-recommends", env=env)
    assert _dpkg_status() == "install ok installed", done.stderr


def test_install_sign_reinstall_remove_purge(
    installed: Path, token: SessionToken, tmp_path: Path
) -> None:
    _dpkg_install(installed)
    assert (VENV / "bin" / "python").exists()
    assert _ok(str(WRAPPER), "--version", cwd=tmp_path).strip() == _version_line()
    # The venv is Debian's python3 (the bundled binary wheels were built for it).
    base = _ok(f"{VENV}/bin/python", "-c", "import sys; print(sys.base_prefix)").strip()
    assert base == "/usr"
    # The agent imports from the virtualenv, never from the current directory.
    where = _ok(f"{VENV}/bin/python", "-c", "import agent; print(agent.__file__)", cwd=tmp_path)
    assert where.startswith(f"{VENV}/lib/")
    # Of the system's Python packages the venv sees PyGObject (the tray's menu), and only it:
    # its own dependencies still come from the bundled wheels.
    seen = _ok(
        f"{VENV}/bin/python",
        "-c",
        "import gi, cryptography, sys; gi.require_version('Gtk', '3.0');"
        " print(gi.__file__); print(cryptography.__file__);"
        " print(any(p.endswith('dist-packages') for p in sys.path))",
        cwd=tmp_path,
    ).split()
    assert seen[0].startswith(f"{VENV}/system-gi/gi/"), seen
    assert seen[1].startswith(f"{VENV}/lib/"), seen
    assert seen[2] == "False", seen

    home = tmp_path / "status-home"
    env = {**token.hsm.environ(), "HOME": str(home), "XDG_DATA_HOME": str(home / "share")}
    report = json.loads(
        _ok(
            str(WRAPPER),
            "status",
            "--json",
            "--pkcs11-module",
            str(token.hsm.module),
            env=env,
            cwd=tmp_path,
        )
    )
    assert report["agent"]["version"] == __version__
    assert report["agent"]["running"] is False
    assert [t["label"] for t in report["tokens"]] == [token.label]

    agent = _start_installed_agent(tmp_path / "agent", token)
    try:
        _sign_with_installed_agent(agent, token)
    finally:
        agent.stop()

    # IT makes the whole machine trust that user's local CA; purge takes it back.
    anchor = _trust_system_wide(agent.data_dir, tmp_path)

    # IT edits the policy; reinstalling (as an upgrade does) keeps it and rebuilds the venv.
    POLICY.write_text(POLICY.read_text("utf-8") + '\nlang = "en"\n', "utf-8")
    marker = VENV / "stale-file"
    marker.write_text("from the previous installation")
    _dpkg_install(installed)
    assert 'lang = "en"' in POLICY.read_text("utf-8")
    assert not marker.exists()
    assert _ok(str(WRAPPER), "--version", cwd=tmp_path).strip() == _version_line()

    _ok("dpkg", "--remove", "kyso-agent")
    assert _dpkg_status() == "deinstall ok config-files"
    for gone in (VENV, WRAPPER, AUTOSTART, WHEELS.parent):
        assert not gone.exists(), gone
    assert POLICY.exists()  # conffiles stay until purge
    assert anchor.exists()  # so does the system trust IT added

    # Another certificate under our file-name pattern is not ours to remove.
    decoy = ANCHORS / "kyso-agent-decoy.crt"
    decoy.write_bytes(token.ca.cert.public_bytes(Encoding.PEM))
    _ok("dpkg", "--purge", "kyso-agent")
    assert _dpkg_status() == ""
    assert not POLICY.parent.exists()
    assert not anchor.exists()
    assert decoy.exists()
    assert not _in_bundle((tmp_path / "anchor.pem").read_text("ascii"))
    assert _in_bundle(decoy.read_text("ascii"))


ANCHORS = Path("/usr/local/share/ca-certificates")
BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def _in_bundle(pem: str) -> bool:
    """Whether the system bundle holds this PEM certificate (compared without line breaks)."""
    body = "".join(pem.split("-----")[2].split())
    return body in "".join(BUNDLE.read_text("ascii").split())


def _trust_system_wide(data_dir: Path, tmp_path: Path) -> Path:
    """``kyso-agent trust install --system`` of the installed package, for ``data_dir``'s CA."""
    if not (ANCHORS.is_dir() and shutil.which("update-ca-certificates")):
        pytest.fail("this test needs Debian's ca-certificates (update-ca-certificates)")
    done = json.loads(
        _ok(str(WRAPPER), "trust", "install", "--system", "--data-dir", str(data_dir), "--json")
    )
    [result] = done["results"]
    assert (result["store"], result["outcome"]) == ("system", "added"), result
    anchor = Path(result["location"])
    assert anchor.parent == ANCHORS and anchor.name.startswith("kyso-agent-")
    ca_pem = (data_dir / "tls" / "ca.pem").read_text("ascii")
    (tmp_path / "anchor.pem").write_text(ca_pem, "ascii")
    assert _in_bundle(ca_pem)
    return anchor


@pytest.fixture(autouse=True)
def _system_store_restored() -> Iterator[None]:
    """Whatever happens, the machine's CA store ends as it began (CI runs on a real machine)."""
    before = BUNDLE.read_bytes() if BUNDLE.exists() else None
    anchors_before = set(ANCHORS.glob("kyso-agent-*.crt"))
    yield
    for leftover in set(ANCHORS.glob("kyso-agent-*.crt")) - anchors_before:
        leftover.unlink()
    if before is not None and BUNDLE.read_bytes() != before:
        _run("update-ca-certificates", "--fresh")
        assert BUNDLE.read_bytes() == before, "the system CA bundle was not restored"
