"""The Windows MSI (packaging/windows/): build it with wixl and inspect its tables with msiinfo.

The MSI is built once per session into dist/ (reused when newer than its sources; ``make msi``
builds the same file). Without msitools/wixl the tests are skipped, except in CI (CI=true) where
that is a failure: ``make deps`` installs them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from agent import __version__
from tests.packaging.test_lock import read_lock

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "packaging" / "windows" / "build.py"

POLICY_VALUES = {
    "ALLOWED_ORIGINS": ("allowed_origins", "[~][ALLOWED_ORIGINS][~]"),
    "PKCS11_MODULES": ("pkcs11_modules", "[~][PKCS11_MODULES][~]"),
    "PORT": ("port", "#[PORT]"),
    "VGCA_COMPAT": ("vgca_enabled", "#[VGCA_COMPAT]"),
    "VNPT_COMPAT": ("vnpt_enabled", "#[VNPT_COMPAT]"),
    "BKAV_COMPAT": ("bkav_enabled", "#[BKAV_COMPAT]"),
    "FPT_COMPAT": ("fpt_enabled", "#[FPT_COMPAT]"),
    "PIN_CACHE_MINUTES": ("pin_cache_minutes", "#[PIN_CACHE_MINUTES]"),
    "TSA_URL": ("tsa_url", "[TSA_URL]"),
    "ALLOW_USER_PAIRING": ("allow_user_pairing", "#[ALLOW_USER_PAIRING]"),
}
PUBLIC_PROPERTIES = (*POLICY_VALUES, "INSTALL_EXTENSION", "BROWSER_POLICIES")
HKLM = "2"
BROWSER_POLICY_KEYS = (
    r"SOFTWARE\Policies\Google",
    r"SOFTWARE\Policies\Microsoft",
    r"SOFTWARE\Policies\Mozilla",
)


def _newest_source() -> float:
    sources = [ROOT / "pyproject.toml", *(ROOT / "packaging" / "windows").iterdir()]
    sources += [ROOT / "packaging" / "sbom.py", ROOT / "requirements" / "windows.txt"]
    sources += (ROOT / "agent").rglob("*.py")
    return max(p.stat().st_mtime for p in sources if p.is_file())


@pytest.fixture(scope="module")
def msi() -> Path:
    return built_msi()


def built_msi() -> Path:
    """dist/'s MSI, built again when a source is newer (skipped without msitools, but in CI)."""
    missing = [t for t in ("wixl", "wixl-heat", "msiinfo", "msibuild") if not shutil.which(t)]
    if missing:
        message = f"{', '.join(missing)} missing: apt-get install msitools wixl (make deps)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    path = ROOT / "dist" / f"kyso-agent-{__version__}-x64.msi"
    if not path.exists() or path.stat().st_mtime < _newest_source():
        subprocess.run([sys.executable, str(BUILD_SCRIPT)], check=True, cwd=ROOT)
    assert path.exists()
    return path


def table(msi: Path, name: str) -> list[dict[str, str]]:
    """Rows of one table, from ``msiinfo export`` (IDT: names, types, table line, rows)."""
    # Tables with binary columns (Icon) are exported as files under ./TABLE/: keep them out of
    # the work tree.
    with tempfile.TemporaryDirectory() as scratch:
        out = subprocess.run(
            ["msiinfo", "export", str(msi), name],
            check=True,
            capture_output=True,
            text=True,
            cwd=scratch,
        ).stdout
    lines = out.split("\r\n") if "\r\n" in out else out.splitlines()
    columns = lines[0].split("\t")
    return [dict(zip(columns, line.split("\t"), strict=False)) for line in lines[3:] if line]


def test_tables_present(msi: Path) -> None:
    out = subprocess.run(
        ["msiinfo", "tables", str(msi)], check=True, capture_output=True, text=True
    ).stdout
    tables = set(out.split())
    for name in ("File", "Registry", "Upgrade", "Property", "Shortcut", "AppSearch", "Icon"):
        assert name in tables


def test_payload_files(msi: Path) -> None:
    files = table(msi, "File")
    names = {row["FileName"] for row in files}
    for expected in (
        "python.exe",
        "pythonw.exe",
        "python313.dll",
        "vcruntime140.dll",
        "_rust.pyd",  # cryptography
        "_pkcs11.cp313-win_amd64.pyd",  # python-pkcs11
        "__main__.py",
        "cli.py",
        "openapi.json",
        "kyso-agent.cmd",
        "_tkinter.pyd",  # the agent's dialog
        "tcl86t.dll",
    ):
        assert expected in names, expected
    # Windows wheels, not the Linux ones of the build machine.
    assert not any(name.endswith(".so") for name in names)
    # Every module compiled by the shipped 3.13 (Program Files is read-only for the user):
    # the agent's, pyHanko's and the standard library's, one .pyc beside each .py.
    for expected in (
        "cli.cpython-313.pyc",
        "signer.cpython-313.pyc",
        "selector_events.cpython-313.pyc",
    ):
        assert expected in names, expected
    sources = sum(1 for name in names if name.endswith(".py"))
    compiled = sum(1 for name in names if name.endswith(".cpython-313.pyc"))
    assert compiled >= sources > 1000, (compiled, sources)
    # The agent package lands in Lib\site-packages\agent.
    directories = {row["Directory"]: row for row in table(msi, "Directory")}

    def path_of(directory: str) -> str:
        parts = []
        while directory in directories and directory != "INSTALLDIR":
            row = directories[directory]
            parts.append(row["DefaultDir"].split("|")[-1])
            directory = row["Directory_Parent"]
        return "\\".join(reversed(parts))

    components = {row["Component"]: row for row in table(msi, "Component")}
    cli = [r for r in files if r["FileName"] == "cli.py"]
    paths = {path_of(components[r["Component_"]]["Directory_"]) for r in cli}
    assert "Lib\\site-packages\\agent" in paths
    sizes = {r["FileName"]: int(r["FileSize"]) for r in files}
    assert sizes["python313.dll"] > 1_000_000


def test_policy_registry_rows(msi: Path) -> None:
    rows = table(msi, "Registry")
    components = {row["Component"]: row for row in table(msi, "Component")}
    policy = {
        r["Name"]: r
        for r in rows
        if r["Key"] == r"SOFTWARE\Policies\Kyso\Agent" and r["Root"] == HKLM
    }
    remembered = {r["Name"] for r in rows if r["Key"] == r"SOFTWARE\Kyso\Agent\Install"}
    for prop, (value_name, value) in POLICY_VALUES.items():
        assert policy[value_name]["Value"] == value
        # Written only when the property is set (an unset property leaves the agent's default).
        assert components[policy[value_name]["Component_"]]["Condition"] == prop
    assert remembered == set(PUBLIC_PROPERTIES)


def test_browser_policies_are_left_to_the_script(msi: Path) -> None:
    """List policies need one numbered value per origin, which one Registry row cannot give:
    the MSI writes no browser key itself (so it never overwrites an administrator's "1")."""
    rows = table(msi, "Registry")
    browser_keys = [r["Key"] for r in rows if r["Key"].startswith(BROWSER_POLICY_KEYS)]
    assert browser_keys == []
    props = {r["Property"] for r in table(msi, "Property")}
    assert "BROWSER_POLICY_INDEX" not in props
    files = {r["File"]: r for r in table(msi, "File")}
    assert files["MsiPoliciesScript"]["FileName"] == "msi_policies.py"
    components = {row["Component"]: row for row in table(msi, "Component")}
    assert components[files["MsiPoliciesScript"]["Component_"]]["Directory_"] == "INSTALLDIR"


#: msidbCustomActionType bits, from the Windows Installer documentation.
EXE_IN_DIRECTORY, CONTINUE, ROLLBACK, IN_SCRIPT, NO_IMPERSONATE = 34, 0x40, 0x100, 0x400, 0x800


def _python(args: str) -> str:
    # cmd.exe gives python.exe valid standard handles (NUL) wherever it is started from.
    return (
        '"[System64Folder]cmd.exe" /d /s /c ""[INSTALLDIR]python.exe" -I -B '
        f'{args} <NUL >NUL 2>NUL"'
    )


LOG = '--log "[TempFolder]kyso-agent-msi.log"'
APPLY = _python(f'"[INSTALLDIR]msi_policies.py" apply {LOG}')
REMOVE = _python(f'"[INSTALLDIR]msi_policies.py" remove {LOG}')


def test_custom_actions(msi: Path) -> None:
    actions = {r["Action"]: r for r in table(msi, "CustomAction")}
    sequence = {r["Action"]: r for r in table(msi, "InstallExecuteSequence")}
    number = {name: int(row["Sequence"]) for name, row in sequence.items()}
    expected = {
        # (type, command line, condition)
        "KysoPoliciesApply": (
            EXE_IN_DIRECTORY | IN_SCRIPT | NO_IMPERSONATE,
            APPLY,
            'NOT (REMOVE~="ALL")',
        ),
        "KysoPoliciesApplyRollback": (
            EXE_IN_DIRECTORY | IN_SCRIPT | ROLLBACK | NO_IMPERSONATE | CONTINUE,
            REMOVE,
            'NOT (REMOVE~="ALL")',
        ),
        "KysoPoliciesRemove": (
            EXE_IN_DIRECTORY | IN_SCRIPT | NO_IMPERSONATE | CONTINUE,
            REMOVE,
            'REMOVE~="ALL"',
        ),
        "KysoPoliciesRemoveRollback": (
            EXE_IN_DIRECTORY | IN_SCRIPT | ROLLBACK | NO_IMPERSONATE | CONTINUE,
            APPLY,
            'REMOVE~="ALL"',
        ),
        # Impersonated: the uninstalling user's own store; full removal only, not an upgrade.
        "KysoTrustUninstall": (
            EXE_IN_DIRECTORY | IN_SCRIPT | CONTINUE,
            _python("-m agent trust uninstall"),
            'REMOVE~="ALL" AND NOT UPGRADINGPRODUCTCODE',
        ),
    }
    for name, (kind, command, condition) in expected.items():
        assert int(actions[name]["Type"]) == kind, name
        assert actions[name]["Source"] == "INSTALLDIR", name  # the working directory
        assert actions[name]["Target"] == command, name
        assert sequence[name]["Condition"] == condition, name
        # Deferred actions live between InstallInitialize and InstallFinalize.
        assert number["InstallInitialize"] < number[name] < number["InstallFinalize"], name
    # Apply runs once the files and the agent's own policy values are there; its rollback is
    # scheduled before it (a rollback action runs only if scheduled before the failure).
    assert number["WriteRegistryValues"] < number["KysoPoliciesApplyRollback"]
    assert number["KysoPoliciesApplyRollback"] < number["KysoPoliciesApply"]
    # Removal runs while python.exe is still there, and before Windows Installer deletes its
    # own values under HKLM\SOFTWARE\Kyso (the script's record lives there).
    for name in ("KysoTrustUninstall", "KysoPoliciesRemoveRollback", "KysoPoliciesRemove"):
        assert number[name] < number["RemoveRegistryValues"] < number["RemoveFiles"], name
    assert number["KysoPoliciesRemoveRollback"] < number["KysoPoliciesRemove"]


def test_run_key_and_shortcut(msi: Path) -> None:
    run = [
        r
        for r in table(msi, "Registry")
        if r["Key"] == r"SOFTWARE\Microsoft\Windows\CurrentVersion\Run" and r["Root"] == HKLM
    ]
    assert [r["Value"] for r in run] == ['"[INSTALLDIR]pythonw.exe" -m agent run --at-login']
    (shortcut,) = table(msi, "Shortcut")
    assert shortcut["Directory_"] == "ProgramMenuFolder"
    assert shortcut["Target"] == "[INSTALLDIR]pythonw.exe"
    assert shortcut["Arguments"] == "-m agent run"
    assert shortcut["Icon_"] == "KysoAgent.ico"


def test_properties_and_arp(msi: Path) -> None:
    props = {r["Property"]: r["Value"] for r in table(msi, "Property")}
    assert props["ProductVersion"] == __version__
    assert props["ProductName"] == "Kyso Agent"
    assert props["ALLUSERS"] == "1"
    assert props["ARPPRODUCTICON"] == "KysoAgent.ico"
    # Add/Remove Programs names the Python inside, as the registry and the agent do.
    assert re.fullmatch(
        rf"Kyso Agent {re.escape(__version__)}, CPython 3\.13\.\d+", props["ARPCOMMENTS"]
    )
    python_version = {r["Name"]: r["Value"] for r in table(msi, "Registry")}["PythonVersion"]
    assert props["ARPCOMMENTS"].endswith(f"CPython {python_version}")
    assert {r["Name"] for r in table(msi, "Icon")} == {"KysoAgent.ico"}
    secure = set(props["SecureCustomProperties"].split(";"))
    assert set(PUBLIC_PROPERTIES) <= secure
    assert {"WIX_UPGRADE_DETECTED", "WIX_DOWNGRADE_DETECTED"} <= secure


def test_major_upgrade(msi: Path) -> None:
    upgrade = table(msi, "Upgrade")
    props = {r["Property"]: r["Value"] for r in table(msi, "Property")}
    assert {r["UpgradeCode"] for r in upgrade} == {props["UpgradeCode"]}
    assert {r["ActionProperty"] for r in upgrade} == {
        "WIX_UPGRADE_DETECTED",
        "WIX_DOWNGRADE_DETECTED",
    }
    launch = {r["Condition"]: r["Description"] for r in table(msi, "LaunchCondition")}
    assert "newer version" in launch["NOT WIX_DOWNGRADE_DETECTED"]
    actions = {r["Action"] for r in table(msi, "InstallExecuteSequence")}
    assert {"FindRelatedProducts", "RemoveExistingProducts"} <= actions


def test_properties_remembered_across_upgrades(msi: Path) -> None:
    locators = {r["Signature_"]: r for r in table(msi, "RegLocator")}
    searches = {r["Property"]: r["Signature_"] for r in table(msi, "AppSearch")}
    sequence = {r["Action"]: int(r["Sequence"]) for r in table(msi, "InstallExecuteSequence")}
    actions = {r["Action"]: r for r in table(msi, "CustomAction")}
    for prop in PUBLIC_PROPERTIES:
        locator = locators[searches[prop]]
        assert (locator["Key"], locator["Name"]) == (r"SOFTWARE\Kyso\Agent\Install", prop)
        # A value given on the command line wins over the remembered one.
        save, restore = f"SaveCmdLine_{prop}", f"RestoreCmdLine_{prop}"
        assert actions[save]["Source"] == f"CMDLINE_{prop}"
        assert actions[restore]["Source"] == prop
        assert sequence[save] < sequence["AppSearch"] < sequence[restore]
        assert sequence[restore] < sequence["CostFinalize"]


def test_signing_with_osslsigncode(
    msi: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not shutil.which("osslsigncode"):
        if os.environ.get("CI") == "true":
            pytest.fail("osslsigncode missing (make deps installs it)")
        pytest.skip("osslsigncode missing")
    key, cert = tmp_path / "sign.key", tmp_path / "sign.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=Kyso test code signing",
            "-addext",
            "extendedKeyUsage=codeSigning",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    copy = tmp_path / "kyso-agent.msi"
    shutil.copy(msi, copy)
    spec = importlib.util.spec_from_file_location("kyso_msi_build", BUILD_SCRIPT)
    assert spec and spec.loader
    build = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, build)
    spec.loader.exec_module(build)
    monkeypatch.delenv("KYSO_SIGN_CERT", raising=False)
    monkeypatch.delenv("KYSO_SIGN_KEY", raising=False)
    build.sign(copy)  # no certificate configured: left unsigned
    assert copy.read_bytes() == msi.read_bytes()
    monkeypatch.setenv("KYSO_SIGN_CERT", str(cert))
    monkeypatch.setenv("KYSO_SIGN_KEY", str(key))
    build.sign(copy)
    result = subprocess.run(
        ["osslsigncode", "verify", "-CAfile", str(cert), "-in", str(copy)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Kyso test code signing" in result.stdout
    assert "Signature verification: ok" in result.stdout, result.stdout + result.stderr


# --- what it ships: the lock, and the SBOM beside it -----------------------------------------


def _dist_infos(msi: Path) -> dict[str, str]:
    """``{canonical name: version}`` of every ``NAME-VERSION.dist-info`` folder in the payload."""
    shipped: dict[str, str] = {}
    for row in table(msi, "Directory"):
        name = row["DefaultDir"].split("|")[-1]
        if name.endswith(".dist-info"):
            project, version = name.removesuffix(".dist-info").rsplit("-", 1)
            shipped[canonicalize_name(project)] = version
    return shipped


def test_the_wheels_inside_are_the_locked_releases(msi: Path) -> None:
    locked = read_lock(ROOT / "requirements" / "windows.txt")
    shipped = _dist_infos(msi)
    assert shipped.pop("kyso-agent") == __version__
    assert shipped == {name: str(pin.version) for name, pin in locked.items()}


def test_an_sbom_beside_the_msi_lists_exactly_what_it_ships(msi: Path) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    sbom_file = msi.with_name(msi.name.removesuffix(".msi") + ".cdx.json")
    text = sbom_file.read_text("utf-8")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    sbom = json.loads(text)
    assert sbom["metadata"]["component"]["name"] == "kyso-agent"
    assert sbom["metadata"]["component"]["version"] == __version__
    locked = read_lock(ROOT / "requirements" / "windows.txt")
    libraries = {
        canonicalize_name(c["name"]): c for c in sbom["components"] if c["type"] == "library"
    }
    shipped = _dist_infos(msi)
    shipped.pop("kyso-agent")
    assert {n: c["version"] for n, c in libraries.items()} == shipped
    for name, component in libraries.items():
        assert component["purl"] == f"pkg:pypi/{name}@{component['version']}"
        [digest] = component["hashes"]
        # The very file shipped is one the lock allows.
        assert digest["content"] in locked[name].hashes, name
    [runtime] = [c for c in sbom["components"] if c["type"] == "platform"]
    assert runtime["name"] == "CPython" and runtime["version"].startswith("3.13.")
    python_version = {r["Name"]: r["Value"] for r in table(msi, "Registry")}["PythonVersion"]
    assert runtime["version"] == python_version
