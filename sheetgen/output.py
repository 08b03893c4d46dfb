"""Writing results: atomic files, safe file names, stdout for ``-o -``, output formats.

Every file sheetgen writes appears whole or not at all: it is written to a temporary file in
the target directory, flushed to disk, then renamed over the target (``os.replace`` is atomic
on one filesystem). An interrupted run therefore never leaves a partial PDF behind, and a
re-run can trust any output that exists.

Output targets
    A target that exists must be a regular file, or a symbolic link to one: a directory, a
    FIFO, a socket or a device is refused (exit 2) rather than replaced by a file (as root,
    renaming over ``/dev/full`` would turn the device node into a regular file). A symbolic
    link is written through, as a shell redirection does: the file it points to gets the new
    bytes and the link stays. Writers of files named from data inside a folder sheetgen owns
    (a batch's per-record outputs) pass ``follow_symlinks=False``: a link there is replaced,
    so no output leaves the folder. :func:`output_file` holds ``fill -o FILE`` to the same
    rules before anything is rendered, and also refuses a name ending in ``/`` (a folder) and
    a folder that does not exist: ``fill`` does not create folders, so a mistyped folder name
    is an error, not a new folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
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


def _kind(mode: int) -> str | None:
    """What a file that is not a regular file is, for a message (None: a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe), not a regular file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a regular file"
    return "not a regular file"


def _refuse(path: Path, kind: str) -> UsageError:
    hint = ("give a file name inside it" if kind == "a directory"
            else "write to a regular file, or give -o - to write to stdout")
    return UsageError(f"cannot write {path}: it is {kind}", hint=hint)


def target_of(path: Path, *, follow_symlinks: bool = True) -> Path:
    """The file that writing ``path`` replaces: ``path``, or what its symbolic link points to.

    Raises UsageError if the target exists and is not a regular file (see the module
    docstring). With ``follow_symlinks=False`` a link at ``path`` is itself the target.
    """
    try:
        info = path.stat(follow_symlinks=follow_symlinks)
    except (FileNotFoundError, NotADirectoryError):
        info = None  # a new file, a link to a file still to be made, or no such folder
    except OSError as exc:  # a loop of links, a component that is not a folder, …
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    if info is not None and not (not follow_symlinks and stat.S_ISLNK(info.st_mode)):
        kind = _kind(info.st_mode)
        if kind is not None:
            raise _refuse(path, kind)
    if follow_symlinks and path.is_symlink():
        return Path(os.path.realpath(path))
    return path


def output_file(text: str) -> Path:
    """``fill -o FILE`` checked before any work: a file name in an existing folder, and no
    directory, FIFO, socket or device (UsageError, exit 2, saying which)."""
    if text.endswith(("/", os.sep)):
        raise UsageError(f"-o {text} names a folder; fill writes one file there",
                         hint=f"give a file name, e.g. -o {text}sheets.pdf")
    path = Path(text)
    target = target_of(path)
    folder = target.parent
    if not folder.is_dir():
        what = (f"{folder} is not a folder" if folder.exists()
                else f"the folder {folder} does not exist")
        raise UsageError(f"cannot write {path}: {what}",
                         hint="fill does not create folders: create it first "
                              f"(mkdir -p {folder}) or give another path")
    return path


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
    fd, tmp = _temporary(target_of(path))
    os.close(fd)
    with contextlib.suppress(OSError):
        tmp.unlink()


def write_atomic(path: Path, data: bytes, *, follow_symlinks: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (temporary file + rename).

    A symbolic link at ``path`` is written through (its target is replaced, the link stays)
    unless ``follow_symlinks`` is false; a directory, FIFO, socket or device is refused.
    """
    path = target_of(path, follow_symlinks=follow_symlinks)
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
