"""The Windows MSI under Wine: properties, registry, browser policies, upgrade, uninstall.

A fresh 64-bit Wine prefix in a temporary directory (``wineboot``, no display needed) gets the MSI
of test_msi.py installed silently with public properties, after an administrator's own browser
policies. The tests then check the files, the machine policy, the remembered properties, the Run
entry and the browser list policies that the MSI's custom actions write with the installed
``python.exe`` (msi_policies.py: one numbered value per origin, the administrator's values left
alone), see a bad origin fail the installation and roll it back, upgrade to a newer build
(``KYSO_VERSION_OVERRIDE``) without properties, see a downgrade refused, and uninstall: the
``kyso-agent trust uninstall`` action runs without failing it, and only what the MSI wrote goes.

What plain Wine 8 cannot run: cryptography's Rust extension imports ``bcryptprimitives.dll``,
which Wine 8 does not have, so in this prefix everything that needs cryptography (``agent.cli``,
``agent.config``, the server, PDF signing) fails to import;
``test_cryptography_needs_bcryptprimitives`` pins that failure so that a Wine that fixes it
shows up. tests/windows/ runs the installed agent itself, in a prefix with a test-only
``bcryptprimitives.dll`` (docs/windows.md).

The tests depend on each other's order (install, inspect, upgrade, uninstall), like the steps of
one deployment. Without Wine they are skipped, except in CI (CI=true): ``make deps`` installs it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import __version__
from tests.conftest import eventually
from tests.packaging.test_msi import BUILD_SCRIPT, ROOT, msi
from tests.wine import INSTALL_DIR, PYTHON, Wine, wine_prefix

__all__ = ["msi"]  # the fixture, shared with test_msi.py

PORTAL = "https://portal.example.gov.vn"
WILDCARD = "https://*.dichvucong.gov.vn"
EXTENSION = "chipklpdnohojehnebdabndkaobocajj;https://it.example.gov.vn/kyso/updates.xml"
PROPERTIES = {
    # Two origins in one property (the script also takes spaces and semicolons).
    "ALLOWED_ORIGINS": f"{PORTAL},{WILDCARD}",
    "PORT": "9443",
    "VGCA_COMPAT": "0",
    "VNPT_COMPAT": "0",
    "FPT_COMPAT": "1",
    "PIN_CACHE_MINUTES": "7",
    "TSA_URL": "http://tsa.example.vn/tsr",
    "BROWSER_POLICIES": "1",
    "INSTALL_EXTENSION": EXTENSION,
}
#: Properties with no value of their own under POLICY_KEY (browser policies only).
BROWSER_ONLY = ("BROWSER_POLICIES", "INSTALL_EXTENSION")
CHROME = r"HKLM\SOFTWARE\Policies\Google\Chrome"
EDGE = r"HKLM\SOFTWARE\Policies\Microsoft\Edge"
FIREFOX = r"HKLM\SOFTWARE\Policies\Mozilla\Firefox"
STATE_KEY = r"HKLM\SOFTWARE\Kyso\Agent\BrowserPolicies"
#: What an administrator set before the MSI came: numbered entries the MSI must not overwrite
#: nor remove, and a Firefox value it must not change.
ADMIN_VALUES = (
    (CHROME + r"\LocalNetworkAccessAllowedForUrls", "1", "REG_SZ", "https://intranet.example.vn"),
    (EDGE + r"\ExtensionInstallForcelist", "1", "REG_SZ", "abcdefghijklmnopabcdefghijklmnop;x"),
    (FIREFOX + r"\LocalNetworkAccess\SkipDomains", "1", "REG_SZ", "printer.example.internal"),
)
#: What the MSI adds to them (value name -> data), through msi_policies.py.
BROWSER_VALUES = {
    CHROME + r"\LocalNetworkAccessAllowedForUrls": {
        "1": "https://intranet.example.vn",
        "2": PORTAL,
        "3": "https://[*.]dichvucong.gov.vn",
    },
    CHROME + r"\LoopbackNetworkAllowedForUrls": {"1": PORTAL, "2": "https://[*.]dichvucong.gov.vn"},
    CHROME + r"\ExtensionInstallForcelist": {"1": EXTENSION},
    EDGE + r"\LocalNetworkAccessAllowedForUrls": {
        "1": PORTAL,
        "2": "https://[*.]dichvucong.gov.vn",
    },
    EDGE + r"\LoopbackNetworkAllowedForUrls": {"1": PORTAL, "2": "https://[*.]dichvucong.gov.vn"},
    EDGE + r"\ExtensionInstallForcelist": {
        "1": "abcdefghijklmnopabcdefghijklmnop;x",
        "2": EXTENSION,
    },
    FIREFOX + r"\LocalNetworkAccess\SkipDomains": {
        "1": "printer.example.internal",
        "2": "portal.example.gov.vn",
        "3": "*.dichvucong.gov.vn",
    },
}
POLICY_KEY = r"HKLM\SOFTWARE\Policies\Kyso\Agent"
REMEMBER_KEY = r"HKLM\SOFTWARE\Kyso\Agent\Install"
AGENT_KEY = r"HKLM\SOFTWARE\Kyso\Agent"
RUN_KEY = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run"
UNINSTALL_KEY = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall"
#: msiexec's exit code is a Windows code (1603: ERROR_INSTALL_FAILURE); Wine's Unix exit status
#: keeps its low byte.
ERROR_INSTALL_FAILURE = 1603 & 0xFF
#: What Wine 8's msiexec returns when a custom action fails (Windows: ERROR_INSTALL_FAILURE).
ERROR_FUNCTION_FAILED = 1627 & 0xFF


def _newer_version() -> str:
    parts = [int(p) for p in re.findall(r"\d+", __version__)[:3]]
    parts += [0] * (3 - len(parts))
    return f"{parts[0]}.{parts[1]}.{parts[2] + 1}"


@pytest.fixture(scope="module")
def wine() -> Iterator[Wine]:
    with wine_prefix("msi") as w:
        yield w


def _log_text(wine: Wine, name: str) -> str:
    log = wine.drive_c / name
    return log.read_bytes().replace(b"\0", b"").decode(errors="replace") if log.exists() else ""


def _browser_values(wine: Wine) -> dict[str, dict[str, str] | None]:
    return {
        key: None if (found := wine.reg(key)) is None else {n: d for n, (_, d) in found.items()}
        for key in BROWSER_VALUES
    }


def test_bad_origin_fails_the_installation_and_leaves_nothing(wine: Wine, msi: Path) -> None:
    """msi_policies.py refuses an origin the agent would refuse (no scheme here): the
    installation fails and is rolled back, instead of an agent that stops at every login."""
    code = wine.msiexec(
        "/i", f"Z:{msi}", "/l*v", r"C:\bad.log", "ALLOWED_ORIGINS=portal.example.gov.vn"
    )
    log = _log_text(wine, "bad.log")
    assert code in (ERROR_INSTALL_FAILURE, ERROR_FUNCTION_FAILED), log[-3000:]
    assert "Action start" in log and "KysoPoliciesApply" in log
    # Windows Installer's log only says that the action failed; the reason is here.
    [reason] = list(wine.drive_c.rglob("kyso-agent-msi.log"))
    text = reason.read_text("utf-8")
    reason.unlink()
    assert "msi_policies: ALLOWED_ORIGINS:" in text and "portal.example.gov.vn" in text
    # Rolled back: no file, no registry value, no product.
    assert not wine.install_dir.exists()
    for key in (POLICY_KEY, REMEMBER_KEY, AGENT_KEY, STATE_KEY):
        assert wine.reg(key) is None, key
    assert _kyso_products(wine) == []


@pytest.fixture(scope="module")
def installed(wine: Wine, msi: Path) -> Wine:
    if wine.installed is None:
        for key, name, kind, data in ADMIN_VALUES:
            assert (
                wine.run("reg", "add", key, "/v", name, "/t", kind, "/d", data, "/f").returncode
                == 0
            )
        props = [f"{name}={value}" for name, value in PROPERTIES.items()]
        log = wine.drive_c / "install.log"
        code = wine.msiexec("/i", f"Z:{msi}", "/l*v", r"C:\install.log", *props)
        text = log.read_bytes().replace(b"\0", b"").decode(errors="replace") if log.exists() else ""
        assert code == 0, f"msiexec /i exited with {code}\n{text[-3000:]}"
        wine.installed = msi
    return wine


def test_install_files(installed: Wine) -> None:
    root = installed.install_dir
    for rel in (
        "python.exe",
        "pythonw.exe",
        "python313.dll",
        "kyso-agent.cmd",
        "Lib/site-packages/agent/__init__.py",
        "Lib/site-packages/agent/server/openapi.json",
        "Lib/site-packages/cryptography/hazmat/bindings/_rust.pyd",
    ):
        assert (root / rel).is_file(), rel
    # -P: "kyso-agent.cmd" started in a folder that holds an "agent" directory (a checkout)
    # still runs the installed agent.
    launcher = (root / "kyso-agent.cmd").read_bytes()
    assert launcher == b'@echo off\r\n"%~dp0python.exe" -P -m agent %*\r\n'
    # Wine 8 puts it in the user's Start menu (Windows: the common one, ALLUSERS=1).
    assert list(installed.drive_c.rglob("Start Menu/Programs/Kyso Agent.lnk")), "no shortcut"


def test_install_registry(installed: Wine) -> None:
    policy = installed.reg(POLICY_KEY)
    assert policy == {
        # One item per origin (msi_policies.py), not the property as one string.
        "allowed_origins": ("REG_MULTI_SZ", f"{PORTAL}\\0{WILDCARD}"),
        "port": ("REG_DWORD", hex(int(PROPERTIES["PORT"]))),
        "vgca_enabled": ("REG_DWORD", "0x0"),
        "vnpt_enabled": ("REG_DWORD", "0x0"),
        "fpt_enabled": ("REG_DWORD", "0x1"),
        "pin_cache_minutes": ("REG_DWORD", "0x7"),
        "tsa_url": ("REG_SZ", PROPERTIES["TSA_URL"]),
    }
    remembered = installed.reg(REMEMBER_KEY)
    assert remembered == {name: ("REG_SZ", value) for name, value in PROPERTIES.items()}
    agent = installed.reg(AGENT_KEY)
    assert agent is not None
    assert agent["Version"] == ("REG_SZ", __version__)
    assert re.fullmatch(r"3\.13\.\d+", agent["PythonVersion"][1])
    assert agent["InstallDir"] == ("REG_SZ", INSTALL_DIR + "\\")
    run = installed.reg(RUN_KEY)
    assert run is not None
    assert run["Kyso Agent"] == ("REG_SZ", f'"{INSTALL_DIR}\\pythonw.exe" -m agent run --at-login')


def test_browser_policies_one_numbered_value_per_origin(installed: Wine) -> None:
    """Two origins give two values in every list; the administrator's "1" stays where it was."""
    assert _browser_values(installed) == BROWSER_VALUES
    certificates = installed.reg(FIREFOX + r"\Certificates")
    assert certificates == {"ImportEnterpriseRoots": ("REG_DWORD", "0x1")}
    # What the script wrote is recorded, so that uninstall takes back exactly that.
    state = installed.reg(STATE_KEY)
    assert state is not None
    assert set(state) == {"Owned", "CreatedKeys"}
    script = INSTALL_DIR + r"\msi_policies.py"
    show = installed.run(PYTHON, "-I", "-B", script, "show", pipes=True)
    assert show.returncode == 0, show.stderr
    assert "ImportEnterpriseRoots = 1" in show.stdout
    assert "intranet.example.vn" not in show.stdout


def test_embedded_python_runs_the_installed_agent(installed: Wine) -> None:
    """python.exe under Wine imports the installed agent and the binary modules it needs."""
    code = (
        "import sys, agent, agent.origin, pkcs11, ssl, ctypes, _tkinter, pyhanko\n"
        "print(sys.platform, agent.__version__, agent.__file__)\n"
    )
    result = installed.python(code)
    assert result.returncode == 0, result.stderr
    site = INSTALL_DIR + r"\Lib\site-packages"
    assert result.stdout.splitlines() == [f"win32 {__version__} {site}\\agent\\__init__.py"]


# Imports of a start, a dialog and a PDF worker (not cryptography, whose Rust part needs what
# this prefix lacks: test_cryptography_needs_bcryptprimitives; nothing that asks WMI, which
# aborts under Wine 8: tests/windows/installed.py), under -B (Wine.python), so that a module
# compiled now has no cached file; then reads the header of an installed .pyc.
_FROM_BYTECODE = """
import importlib.util, json, os, sys
import agent.config, agent.protocol, agent.pdf.models, tkinter, email.message, asn1crypto.cms
# Frozen modules (in python313.dll) have no __cached__.
from_source = sorted(
    name for name, module in list(sys.modules.items())
    if (getattr(module, "__file__", None) or "").endswith(".py")
    and getattr(module, "__cached__", None) is not None
    and not os.path.exists(module.__cached__)
)
loaded = sum(1 for module in list(sys.modules.values()) if getattr(module, "__cached__", None))
cached = agent.protocol.__cached__
header = open(cached, "rb").read(8).hex() if os.path.exists(cached) else ""
print(json.dumps([from_source, loaded, importlib.util.MAGIC_NUMBER.hex(), header]))
"""


def test_every_module_is_imported_from_the_installed_bytecode(installed: Wine) -> None:
    """Nothing is compiled at run time: what Program Files cannot keep for the user."""
    result = installed.python(_FROM_BYTECODE)
    assert result.returncode == 0, result.stderr
    from_source, loaded, magic, header = json.loads(result.stdout.splitlines()[-1])
    assert from_source == [] and loaded > 100, (from_source, loaded)
    # The interpreter's own magic number; flags 0b01: hash-based, source never checked.
    assert header[:8] == magic and bytes.fromhex(header[8:16]) == (1).to_bytes(4, "little")


def test_agent_reads_the_msi_policy(installed: Wine) -> None:
    """The agent's own load_config reads what the MSI wrote (two origins as two entries)."""
    code = (
        "import agent.config as c\n"
        "cfg = c.load_config()\n"
        "print([o.host for o in cfg.allowed_origins], cfg.port, cfg.vgca_enabled,"
        " cfg.vnpt_enabled, cfg.bkav_enabled, cfg.fpt_enabled, cfg.pin_cache_minutes,"
        " cfg.tsa_url)\n"
    )
    result = installed.python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "['portal.example.gov.vn', 'dichvucong.gov.vn'] 9443 False False True True 7 "
        "http://tsa.example.vn/tsr"
    ]


def test_data_directory_admits_the_user_and_system_alone(installed: Wine) -> None:
    """Modes mean nothing on Windows: the data directory, what it already holds and the log
    files made later get a DACL for the user and SYSTEM alone; a second start changes nothing.

    Wine keeps a DACL as Unix modes (no protection flag, no inheritance to files made later),
    so this checks whom each DACL lets in, not its exact text.
    """
    code = (
        "import logging, os, pathlib, sys, agent.private as p\n"
        "logging.basicConfig(stream=sys.stdout, level=logging.INFO, format='log %(message)s')\n"
        "d = pathlib.Path(os.environ['LOCALAPPDATA']) / 'private-acl-check'\n"
        "(d / 'logs').mkdir(parents=True)\n"
        "(d / 'logs' / 'old.log').write_text('from an older version')\n"
        "print('sid', p.current_user_sid())\n"
        "print('before', p.dacl_sddl(d / 'logs' / 'old.log'))\n"
        "p.private_dir(d)\n"
        "print('again')\n"
        "p.private_dir(d)\n"
        "h = p.PrivateLogFile(d / 'logs' / 'agent.log', maxBytes=100, backupCount=1)\n"
        "h.close()\n"
        "for path in (d, d / 'logs', d / 'logs' / 'old.log', d / 'logs' / 'agent.log'):\n"
        "    print('after', p.dacl_sddl(path))\n"
        # Gone again: the uninstall test looks for anything left behind in the prefix.
        "import shutil; shutil.rmtree(d)\n"
    )
    result = installed.python(code)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    [sid] = [line.split()[1] for line in lines if line.startswith("sid ")]
    assert re.fullmatch(r"S-1-5-21(-\d+){4}", sid), sid
    [before] = [line.split()[1] for line in lines if line.startswith("before ")]
    assert "WD" in p_trustees(before), before  # Wine's default lets Everyone read
    after = [line.split()[1] for line in lines if line.startswith("after ")]
    assert len(after) == 4
    for sddl in after:
        assert p_trustees(sddl) == {sid, "SY"}, sddl
    repaired = [line for line in lines if line.startswith("log ")]
    assert len(repaired) == 4, lines  # the directory, logs, old.log, then the new agent.log
    assert lines.index("again") > lines.index(repaired[2]), "a second start repaired again"


def p_trustees(sddl: str) -> set[str]:
    """Whom an SDDL DACL's access-allowed entries name (read here independently of the agent)."""
    return {ace.split(";")[-1] for ace in re.findall(r"\(([^)]*)\)", sddl) if ace.startswith("A;")}


def test_cryptography_needs_bcryptprimitives(installed: Wine) -> None:
    """What Wine 8 cannot run: cryptography's _rust.pyd imports bcryptprimitives.dll.

    If this test fails because the import works, Wine has gained the DLL: import agent.cli and
    the server here instead and drop this test.
    """
    result = installed.python(
        "import cryptography.hazmat.bindings._rust", env={"WINEDEBUG": "-all,err+module"}
    )
    assert result.returncode != 0, "cryptography imports under this Wine: extend the tests"
    assert "DLL load failed while importing _rust" in result.stderr
    assert re.search(r"bcryptprimitives\.dll.*_rust\.pyd", result.stderr), result.stderr
    # ... and so does the agent's first start, which issues its local TLS certificates with it
    # (importing the agent no longer loads cryptography: docs/performance.md).
    start = installed.python(
        "import pathlib, tempfile, agent.localtls.ca as ca; "
        "ca.ensure(pathlib.Path(tempfile.mkdtemp()))"
    )
    assert start.returncode != 0
    assert "DLL load failed while importing _rust" in start.stderr


def test_upgrade_keeps_properties_and_refuses_downgrade(
    installed: Wine, msi: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    newer_version = _newer_version()
    newer = tmp_path_factory.mktemp("msi") / f"kyso-agent-{newer_version}-x64.msi"
    subprocess.run(
        [sys.executable, str(BUILD_SCRIPT), "-o", str(newer)],
        check=True,
        cwd=ROOT,
        env={**os.environ, "KYSO_VERSION_OVERRIDE": newer_version},
        capture_output=True,
    )
    files_before = sorted(
        p.relative_to(installed.install_dir) for p in installed.install_dir.rglob("*")
    )

    # The upgrade, without properties.
    assert installed.msiexec("/i", f"Z:{newer}") == 0
    installed.installed = newer
    # Seen once in a full run: the key read as absent right after msiexec returned, and present
    # in every run since; give Wine's registry a moment rather than fail on that.
    agent = eventually(lambda: installed.reg(AGENT_KEY), 15, "the agent's key after the upgrade")
    assert agent["Version"] == ("REG_SZ", newer_version)
    assert installed.reg(REMEMBER_KEY) == {
        name: ("REG_SZ", value) for name, value in PROPERTIES.items()
    }
    policy = installed.reg(POLICY_KEY)
    assert policy is not None
    assert policy["port"] == ("REG_DWORD", hex(int(PROPERTIES["PORT"])))
    assert policy["allowed_origins"] == ("REG_MULTI_SZ", f"{PORTAL}\\0{WILDCARD}")
    assert policy["vgca_enabled"] == ("REG_DWORD", "0x0")
    assert len(policy) == len(PROPERTIES) - len(BROWSER_ONLY)
    # The old product's uninstallation took its browser values back, the new one wrote them
    # again from the remembered properties: the same values, the administrator's untouched.
    assert _browser_values(installed) == BROWSER_VALUES
    assert installed.reg(FIREFOX + r"\Certificates") == {
        "ImportEnterpriseRoots": ("REG_DWORD", "0x1")
    }
    # One product in Add/Remove Programs: the older one was removed, its files were not lost.
    products = _kyso_products(installed)
    assert [v["DisplayVersion"][1] for v in products] == [newer_version]
    files_after = sorted(
        p.relative_to(installed.install_dir) for p in installed.install_dir.rglob("*")
    )
    assert files_after == files_before

    # The downgrade is refused (LaunchConditions: WIX_DOWNGRADE_DETECTED) and changes nothing.
    assert installed.msiexec("/i", f"Z:{msi}") == ERROR_INSTALL_FAILURE
    agent = installed.reg(AGENT_KEY)
    assert agent is not None
    assert agent["Version"] == ("REG_SZ", newer_version)
    assert [v["DisplayVersion"][1] for v in _kyso_products(installed)] == [newer_version]


def _kyso_products(wine: Wine) -> list[dict[str, tuple[str, str]]]:
    listing = wine.run("reg", "query", UNINSTALL_KEY).stdout.splitlines()
    products = []
    for key in (line.strip() for line in listing if line.startswith("HKEY_")):
        values = wine.reg(key)
        if values and values.get("DisplayName", ("", ""))[1] == "Kyso Agent":
            products.append(values)
    return products


def test_uninstall_leaves_nothing(installed: Wine) -> None:
    assert installed.installed is not None
    code = installed.msiexec("/x", f"Z:{installed.installed}", "/l*v", r"C:\uninstall.log")
    log = _log_text(installed, "uninstall.log")
    assert code == 0, log[-3000:]
    # The local CA is taken out of the uninstalling user's store first. Under Wine that
    # command cannot import cryptography (see above) and fails: the uninstallation goes on.
    assert "KysoTrustUninstall" in log
    # The browser values the MSI added are gone; the administrator's are as they were.
    admin: dict[str, dict[str, str] | None] = {key: None for key in BROWSER_VALUES}
    for key, name, _kind, data in ADMIN_VALUES:
        admin[key] = {name: data}
    assert _browser_values(installed) == admin
    assert installed.reg(FIREFOX + r"\Certificates") is None
    assert installed.reg(STATE_KEY) is None
    assert not installed.install_dir.exists(), sorted(installed.install_dir.rglob("*"))[:20]
    for key in (POLICY_KEY, REMEMBER_KEY, AGENT_KEY, r"HKLM\SOFTWARE\Policies\Kyso"):
        assert installed.reg(key) is None, key
    run = installed.reg(RUN_KEY) or {}
    assert "Kyso Agent" not in run
    assert _kyso_products(installed) == []
    assert not list(installed.drive_c.rglob("*Kyso*"))
    installed.stop_server()
    for hive in ("system.reg", "user.reg"):
        text = (installed.prefix / hive).read_text(encoding="utf-8", errors="replace")
        leftovers = [line for line in text.splitlines() if "kyso" in line.lower()]
        assert leftovers == [], f"{hive}: {leftovers[:10]}"
