"""IT uninstalls the MSI while the agent runs in the user's session: nothing of it stays.

Runs last among the Windows tests (tests/windows/conftest.py): it takes away what they share.
"""

from __future__ import annotations

import hashlib

import pytest
from cryptography import x509

from tests.verify import der
from tests.windows.installed import POLICY_KEY, RUN_KEY, WindowsAgent

pytestmark = pytest.mark.windows


def test_uninstall_leaves_no_files_run_key_policy_or_ca(windows_agent: WindowsAgent) -> None:
    wine = windows_agent.wine
    assert wine.installed is not None, "the MSI of tests/windows/conftest.py"
    assert windows_agent.data_dir is not None
    ca = x509.load_pem_x509_certificate((windows_agent.data_dir / "tls" / "ca.pem").read_bytes())
    thumbprint = hashlib.sha1(der(ca)).hexdigest().upper()  # noqa: S324 - Windows' own name
    store = r"HKCU\Software\Microsoft\SystemCertificates\Root\Certificates"
    assert thumbprint in wine.run("reg", "query", store).stdout.upper(), "trusted beforehand"
    # The user logs off before IT's uninstallation reaches the machine: the agent ends with
    # the session, its module worker with it.
    if windows_agent.process is not None:
        windows_agent.process.kill()
        windows_agent.process.wait(60)
    code = wine.msiexec("/x", f"Z:{wine.installed}", "/l*v", r"C:\uninstall.log")
    log = (wine.drive_c / "uninstall.log").read_bytes().replace(b"\0", b"").decode(errors="replace")
    assert code == 0, log[-3000:]
    # The uninstalling user's store: the MSI's "kyso-agent trust uninstall" took the CA out.
    assert "KysoTrustUninstall" in log
    assert thumbprint not in wine.run("reg", "query", store).stdout.upper()
    assert not wine.install_dir.exists(), sorted(wine.install_dir.rglob("*"))[:20]
    assert "Kyso Agent" not in (wine.reg(RUN_KEY) or {})
    assert wine.reg(POLICY_KEY) is None
    assert wine.reg(r"HKLM\SOFTWARE\Kyso") is None
    # The user's own data (audit trail, paired portals, the local CA's key) stays theirs, as
    # with any Windows program: removing the program is IT's, the data the user's.
    assert (windows_agent.data_dir / "audit.sqlite3").exists()
