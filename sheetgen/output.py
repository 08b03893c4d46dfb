"""Writing results: atomic files, safe file names, stdout for ``-o -``, output formats.

Every file sheetgen writes appears whole or not at all: it is written to a temporary file in
the target directory, flushed to disk, then renamed over the target (``os.replace`` is atomic
on one filesystem). An interrupted run therefore never leaves a partial PDF behind, and a
re-run can trust any output that exists.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import unicodedata
from collections.abc import Collection
from pathlib import Path
from typing import BinaryIO

from sheetgen.errors import UsageError

#: New files get the usual permissions (0666 less the umask) and a replaced file keeps its
#: own, as a shell redirection would: a sheet the user made private stays private.
_UMASK = os.umask(0)
os.umask(_UMASK)

#: Longest file-name stem produced from data (in characters; CJK names stay well under the
#: usual 255-byte limit in UTF-8).
MAX_STEM = 60


def _temporary(path: Path) -> tuple[int, Path]:
    """A new hidden ``.part`` file beside ``path`` (its folder created): descriptor and path."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    return fd, Path(name)


def check_writable(path: Path) -> None:
    """Raise UsageError unless :func:`write_atomic` could write ``path`` now.

    For files written only at the end of a long run (a batch's bundle and report), so that
    a wrong path fails the run before it starts, not after all its work.
    """
    if path.is_dir():
        raise UsageError(f"cannot write {path}: it is a directory")
    fd, tmp = _temporary(path)
    os.close(fd)
    with contextlib.suppress(OSError):
        tmp.unlink()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file + rename)."""
    fd, tmp = _temporary(path)
    try:
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o666 & ~_UMASK
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        tmp.replace(path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise


class AtomicFile:
    """A file written bit by bit that appears at ``path`` only when complete (:meth:`commit`).

    For output too big to hold in memory (a batch's bundle): the data goes to a hidden
    ``.part`` file beside ``path`` (as :func:`write_atomic`), renamed over ``path`` by
    :meth:`commit`; :meth:`discard` removes it. A write that fails is a UsageError.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        fd, self._tmp = _temporary(path)
        self._handle: BinaryIO | None = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> int:
        if self._handle is None:
            raise ValueError(f"{self.path}: already committed or discarded")
        try:
            return self._handle.write(data)
        except OSError as exc:
            raise UsageError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def commit(self) -> None:
        """Make the file complete at ``path`` (keeping a replaced file's permissions)."""
        handle, self._handle = self._handle, None
        if handle is None:
            raise ValueError(f"{self.path}: already committed or discarded")
        try:
            try:
                mode = self.path.stat().st_mode & 0o7777
            except FileNotFoundError:
                mode = 0o666 & ~_UMASK
            with handle:
                handle.flush()
                os.fchmod(handle.fileno(), mode)
                os.fsync(handle.fileno())
            self._tmp.replace(self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                self._tmp.unlink()
            raise UsageError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def discard(self) -> None:
        """Remove the partial file (nothing to do once committed)."""
        handle, self._handle = self._handle, None
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.close()
            with contextlib.suppress(OSError):
                self._tmp.unlink()


def write_stdout(data: bytes, *, what: str = "PDF") -> None:
    """Write binary ``data`` to stdout, refusing a terminal (it would only print garbage)."""
    if sys.stdout.isatty():
        raise UsageError(f"refusing to write a {what} to a terminal",
                         hint="redirect stdout to a file, or give -o FILE")
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def safe_stem(text: str, fallback: str = "sheetgen") -> str:
    """A file-name stem from arbitrary text: letters (any script), digits, ``._-`` only.

    Path separators, ``..``, control and invisible characters cannot survive, so a name
    built from data never leaves the output directory.
    """
    text = unicodedata.normalize("NFKC", text)
    cleaned = "".join(ch if (ch.isalnum() or ch in "._-") else "_" for ch in text)
    cleaned = re.sub(r"_+", "_", cleaned).strip("._-")[:MAX_STEM].strip("._-")
    return cleaned or fallback


#: Output formats, as ``--format`` names them.
FORMATS = ("pdf", "docx")


def parse_formats(text: str) -> tuple[str, ...]:
    """``pdf``, ``docx`` or ``pdf,docx`` (``--format``) as a tuple of formats."""
    formats = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",")))
    check_formats(formats)
    return formats


def check_formats(formats: Collection[str], output: str | None = None) -> None:
    """Raise UsageError unless ``formats`` is a non-empty selection of :data:`FORMATS` that
    can be written to ``output`` (stdout takes one PDF, not several Word files)."""
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise UsageError(f"unknown output format: {', '.join(unknown) or '(none)'}",
                         hint="use pdf, docx or pdf,docx")
    if output == "-" and "docx" in formats:
        raise UsageError("-o - writes one PDF to stdout; Word output is several files",
                         hint="give -o FILE: the Word files are written beside it")
