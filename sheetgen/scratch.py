"""The process's scratch folder in the temp directory, and the removal of dead runs' ones.

WeasyPrint copies every ``@font-face`` font into a folder of its own (26 MB for the bundled
fonts) and removes it only from ``FontConfiguration.__del__`` or ``atexit``, neither of which
runs in a batch worker (multiprocessing ends its children with ``os._exit``) or in a process
that is killed. So sheetgen gives WeasyPrint a folder inside its own scratch folder,
:func:`folder`, and removes that folder on every way out it can see:

* at normal exit (``atexit``) and when a multiprocessing child finishes (a
  ``multiprocessing.util.Finalize``, which ``os._exit``-ing workers still run);
* on SIGTERM, which the CLI turns into an orderly exit (``sheetgen.cli``);
* for what no process could remove itself (``kill -9``, a worker the batch had to kill, a
  crash): :func:`sweep`, at the start of every rendering command and batch, and after a batch
  has stopped its workers.

Only our own dead runs' folders are swept, and safely: a scratch folder is named
``sheetgen-scratch-<pid>-…``, and its process holds an exclusive ``flock`` on the ``.lock``
file inside it for as long as it lives (the kernel drops the lock when the process dies,
however it dies). :func:`sweep` removes a folder only if it belongs to the current user and
its lock can be taken, i.e. no living process holds it, whatever the pid in its name has
become since; a folder without a lock file is removed only once it is a minute old (a
process may be between creating the folder and locking it).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PREFIX = "sheetgen-scratch-"
LOCK = ".lock"
#: A folder without its lock file is left alone this long (seconds): it may be being made.
UNLOCKED_GRACE = 60.0


@dataclass(frozen=True)
class _Scratch:
    pid: int
    path: Path
    lock_fd: int


_current: _Scratch | None = None
_guard = threading.Lock()


def folder() -> Path:
    """This process's scratch folder, made (and locked) on first use; a forked child gets its
    own, not its parent's."""
    global _current
    with _guard:
        if _current is not None and _current.pid == os.getpid():
            return _current.path
        sweep()
        path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
        fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        _lock(fd, block=True)
        _current = _Scratch(os.getpid(), path, fd)
    atexit.register(cleanup)
    from multiprocessing import util

    # Runs in a multiprocessing child's own exit path (before its os._exit), where atexit
    # does not; in the main process it runs at exit too, harmlessly (cleanup is idempotent).
    util.Finalize(None, cleanup, exitpriority=10)
    return path


def subfolder(name: str) -> Path:
    """A folder ``name`` inside this process's scratch folder (created)."""
    path = folder() / name
    path.mkdir(exist_ok=True)
    return path


def cleanup() -> None:
    """Remove this process's scratch folder (nothing if it has none, or if it is a forked
    child's copy of its parent's state)."""
    global _current
    with _guard:
        current = _current
        if current is None or current.pid != os.getpid():
            return
        _current = None
    shutil.rmtree(current.path, ignore_errors=True)
    with contextlib.suppress(OSError):
        os.close(current.lock_fd)


def _lock(fd: int, *, block: bool) -> bool:
    try:
        import fcntl
    except ImportError:  # not POSIX: no locks; a folder is then never taken for dead
        return block
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def sweep(root: Path | None = None) -> list[Path]:
    """Remove the scratch folders of dead sheetgen processes of this user in ``root`` (the
    temp directory); returns the folders removed. Never raises."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(root or tempfile.gettempdir()))
    except OSError:
        return removed
    mine = _current.path if _current is not None and _current.pid == os.getpid() else None
    for entry in entries:
        path = Path(entry.path)
        try:
            if (not entry.name.startswith(PREFIX) or path == mine
                    or not entry.is_dir(follow_symlinks=False)
                    or entry.stat(follow_symlinks=False).st_uid != os.getuid()):
                continue
            if _dead(path):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
        except OSError:
            continue
    return removed


def _dead(path: Path) -> bool:
    """Whether no living process owns the scratch folder ``path`` (see the module docstring)."""
    try:
        fd = os.open(path / LOCK, os.O_RDWR | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return time.time() - path.stat().st_mtime > UNLOCKED_GRACE
    try:
        return _lock(fd, block=False)  # taken: its owner is gone (closing fd releases it)
    finally:
        os.close(fd)
