"""Output targets (issue 15): what ``-o`` may name, and what happens to the node it names.

A symbolic link is written through (its file gets the bytes, the link stays); a directory,
FIFO, socket or device is refused with exit 2 and left as it was; ``-o newdir/`` is a folder
and refused for ``fill``; ``fill`` does not create missing folders. Refusals come before any
rendering, so most of these tests cost nothing.
"""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

import pytest

from sheetgen.errors import UsageError
from sheetgen.output import check_writable, output_file, write_atomic
from sheetgen.pipeline import fill
from tests.applicants import SECRET, personal
from tests.conftest import run_cli as cli


def _input(tmp_path: Path) -> Path:
    data = personal()
    data["access"] = {"filing_password": SECRET}
    path = tmp_path / "me.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.pdf"
    os.mkfifo(path)
    return path


def _device(tmp_path: Path) -> Path:
    """A character device node (like /dev/null) inside tmp_path, so no real device is at risk."""
    path = tmp_path / "null.pdf"
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("creating a device node needs root")
    return path


def _socket(tmp_path: Path) -> Path:
    path = tmp_path / "s.pdf"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()  # the socket file stays
    return path


@pytest.mark.parametrize(("make", "kind"), [
    (_fifo, "a FIFO"), (_device, "a device"), (_socket, "a socket"),
    (lambda tmp: tmp, "a directory")])
def test_fill_refuses_special_files_and_leaves_them_alone(
        tmp_path: Path, make: object, kind: str) -> None:
    target = make(tmp_path)  # type: ignore[operator]
    before = os.lstat(target)
    source = _input(tmp_path)
    result = cli("fill", str(source), "-o", str(target))
    assert result.code == 2, result.stderr
    assert f"cannot write {target}: it is {kind}" in result.stderr
    assert "Traceback" not in result.stderr and SECRET not in result.stderr
    after = os.lstat(target)
    assert stat.S_IFMT(after.st_mode) == stat.S_IFMT(before.st_mode)
    assert after.st_ino == before.st_ino
    assert not list(tmp_path.glob(".*.part"))


def test_write_atomic_refuses_special_files(tmp_path: Path) -> None:
    """The rule is the writer's, so the batch's bundle and report are held to it too."""
    for target in (_fifo(tmp_path), _socket(tmp_path), tmp_path):
        with pytest.raises(UsageError, match="cannot write"):
            write_atomic(target, b"x")
        with pytest.raises(UsageError, match="cannot write"):
            check_writable(target)


def test_batch_bundle_onto_a_fifo_is_refused_before_the_run(tmp_path: Path) -> None:
    source = _input(tmp_path)
    fifo = _fifo(tmp_path)
    result = cli("batch", str(source), "-o", str(tmp_path / "out"), "--bundle", str(fifo))
    assert result.code == 2 and "it is a FIFO" in result.stderr, result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_fill_writes_through_a_symlink_and_keeps_it(tmp_path: Path) -> None:
    real = tmp_path / "real" / "sheets.pdf"
    real.parent.mkdir()
    real.write_bytes(b"old")
    real.chmod(0o600)  # the file's own permissions are kept
    link = tmp_path / "link.pdf"
    link.symlink_to(real)
    result = fill(_input(tmp_path).read_bytes(), source="me.json", output=str(link))
    assert result.outputs == [str(link)]
    assert link.is_symlink() and link.readlink() == real
    assert real.read_bytes().startswith(b"%PDF-") and SECRET.encode() not in real.read_bytes()
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert not list(tmp_path.rglob(".*.part"))


def test_a_link_to_a_special_file_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "link.pdf"
    link.symlink_to(_fifo(tmp_path))
    with pytest.raises(UsageError, match="it is a FIFO"):
        output_file(str(link))
    loop = tmp_path / "loop.pdf"
    loop.symlink_to(loop)
    result = cli("fill", str(_input(tmp_path)), "-o", str(loop))
    assert result.code == 2 and "symbolic links" in result.stderr, result.stderr


def test_write_atomic_without_following_replaces_the_link(tmp_path: Path) -> None:
    """Batch outputs are named from data inside OUTDIR: a link there must not lead outside."""
    outside = tmp_path / "outside.pdf"
    outside.write_bytes(b"keep")
    outdir = tmp_path / "out"
    outdir.mkdir()
    (outdir / "A.pdf").symlink_to(outside)
    write_atomic(outdir / "A.pdf", b"new", follow_symlinks=False)
    assert not (outdir / "A.pdf").is_symlink() and (outdir / "A.pdf").read_bytes() == b"new"
    assert outside.read_bytes() == b"keep"


@pytest.mark.parametrize(("output", "fragment"), [
    ("newdir/", "-o newdir/ names a folder; fill writes one file there"),
    (".", "cannot write .: it is a directory"),
    ("newdir/sheets.pdf", "the folder newdir does not exist"),
    ("me.json/x.pdf", "cannot write me.json/x.pdf: me.json is not a folder"),
])
def test_fill_output_folder_mistakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     output: str, fragment: str) -> None:
    monkeypatch.chdir(tmp_path)
    _input(tmp_path)
    result = cli("fill", "me.json", "-o", output)
    assert result.code == 2, result.stderr
    assert fragment in result.stderr and "hint:" in result.stderr
    assert not (tmp_path / "newdir").exists()  # fill creates no folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["me.json"]


def test_fill_output_mistakes_answer_json(tmp_path: Path) -> None:
    result = cli("fill", str(_input(tmp_path)), "-o", str(tmp_path) + "/", "--json")
    payload = json.loads(result.text)
    assert result.code == 2 and payload["ok"] is False and payload["code"] == "usage"
    assert "names a folder" in payload["message"]


def test_output_file_accepts_new_and_existing_files(tmp_path: Path) -> None:
    assert output_file(str(tmp_path / "new.pdf")) == tmp_path / "new.pdf"
    (tmp_path / "old.pdf").write_bytes(b"x")
    assert output_file(str(tmp_path / "old.pdf")) == tmp_path / "old.pdf"
