"""``agent/files.py``: a new file written whole, never over an existing one."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from agent.files import create_atomically, partial_path


def test_a_new_file_is_written_whole_with_the_mode_asked_for(tmp_path: Path) -> None:
    target = tmp_path / "QĐ-12-signed.pdf"
    create_atomically(target, b"%PDF signed", mode=0o644)
    assert target.read_bytes() == b"%PDF signed"
    assert target.stat().st_mode & 0o777 == 0o644 & ~_umask()
    assert list(tmp_path.iterdir()) == [target], "no partial file left"


def test_an_existing_file_is_never_replaced(tmp_path: Path) -> None:
    target = tmp_path / "a-signed.pdf"
    target.write_bytes(b"the user's own")
    with pytest.raises(FileExistsError):
        create_atomically(target, b"%PDF signed")
    assert target.read_bytes() == b"the user's own"
    assert not partial_path(target).exists()


@pytest.mark.skipif(os.name == "nt", reason="Windows renames without a hard link")
def test_without_hard_links_the_file_is_renamed_after_a_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FAT and exFAT (USB drives) have no hard links."""

    def no_links(_source: object, _target: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    target = tmp_path / "b-signed.pdf"
    create_atomically(target, b"%PDF signed")
    assert target.read_bytes() == b"%PDF signed"
    with pytest.raises(FileExistsError):
        create_atomically(target, b"%PDF again")
    assert target.read_bytes() == b"%PDF signed"
    assert sorted(tmp_path.iterdir()) == [target]


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
