"""Module discovery finds the Vietnamese CAs' PKCS#11 DLLs by the names their installers use."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.token.discovery import discover_modules, known_modules


def test_windows_table_finds_each_cas_module_in_system32(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system32 = tmp_path / "System32"
    system32.mkdir()
    names = (
        "viettel-ca_v6.dll",
        "vnptca_p11_v8.dll",
        "fpt-ca_v2.dll",
        "fptca_v4.dll",  # what FPT's SignPlugin itself loads
        "BkavCA_v3.dll",
        "eps2003csp11.dll",
    )
    for name in (*names, "unrelated.dll"):
        (system32 / name).write_bytes(b"MZ")
    monkeypatch.setenv("SYSTEMROOT", str(tmp_path))
    found = {path.name for path in discover_modules(known_modules("win32"))}
    assert found == set(names)
