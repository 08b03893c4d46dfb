"""Writing results (sheetgen.output): atomic files and their permissions."""

from __future__ import annotations

import stat
from pathlib import Path

from sheetgen import output
from sheetgen.output import write_atomic


def test_write_atomic_gives_new_files_the_umask_and_keeps_a_replaced_files_mode(
        tmp_path: Path) -> None:
    new = tmp_path / "sub" / "new.pdf"
    write_atomic(new, b"one")
    assert stat.S_IMODE(new.stat().st_mode) == 0o666 & ~output._UMASK
    assert new.read_bytes() == b"one"
    private = tmp_path / "private.pdf"
    private.write_bytes(b"old")
    private.chmod(0o600)  # a sheet full of personal data, made private by its owner
    write_atomic(private, b"new")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600 and private.read_bytes() == b"new"
    assert [p.name for p in tmp_path.rglob(".*.part")] == []
